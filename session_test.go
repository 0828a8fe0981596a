package parley

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeService is a participant service that holds CreateParticipantConnection
// until gate closes (or the client gives up), then serves a websocket that
// subscribes and pushes one message at once.
func fakeService(t *testing.T, gate <-chan struct{}) (url string, connecting <-chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 1)
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("POST /participant/connection", func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, `{"Websocket":{"Url":%q,"ConnectionExpiry":"2099-01-01T00:00:00Z"},"ConnectionCredentials":{"ConnectionToken":"tok","Expiry":"2099-01-01T00:00:00Z"}}`,
			"ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	})
	mux.HandleFunc("POST /participant/transcript", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"Transcript":[]}`)
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil { // aws/subscribe
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`))
		item, _ := json.Marshal(map[string]string{"Id": "m1", "Type": "MESSAGE", "ContentType": "text/plain", "Content": "hi"})
		env, _ := json.Marshal(map[string]string{"topic": "aws/chat", "contentType": "application/json", "content": string(item)})
		c.Write(ctx, websocket.MessageText, env)
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, arrived
}

// TestCloseDuringConnect: Close while Connect waits on the service
// interrupts the Connect and closes Events once, and nothing is sent on the
// closed channel afterwards (it used to panic: Close closed Events, then the
// Connect finished and started the run loop, which sent on it).
func TestCloseDuringConnect(t *testing.T) {
	gate := make(chan struct{})
	url, connecting := fakeService(t, gate)
	s := NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: url})
	connected := make(chan error, 1)
	go func() { connected <- s.Connect(context.Background()) }()
	<-connecting
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	// Whether Close has returned yet or not, let the service answer: a
	// Connect that went on would now succeed and deliver.
	time.Sleep(100 * time.Millisecond)
	close(gate)
	select {
	case err := <-connected:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Connect interrupted by Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not return after Close")
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for e := range s.Events() {
		t.Errorf("an event after Close: %T", e)
	}
	time.Sleep(200 * time.Millisecond) // a run loop started regardless would panic here
	if err := s.Connect(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseBeforeAndAfterConnect: Close without Connect closes Events; a
// failed Connect can be retried; Close after a Connect stops the run loop.
func TestCloseBeforeAndAfterConnect(t *testing.T) {
	s := NewSession(Details{}, Options{Endpoint: "http://127.0.0.1:1"})
	s.Close()
	if _, ok := <-s.Events(); ok {
		t.Error("Events open after Close")
	}

	gate := make(chan struct{})
	close(gate)
	url, _ := fakeService(t, gate)
	s = NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: "http://127.0.0.1:1"})
	if err := s.Connect(context.Background()); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	s.endpoint = url // a retry after a failure is allowed
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e := <-s.Events(); e.(*Message).Content != "hi" {
		t.Errorf("first event %+v", e)
	}
	s.Close()
	if _, ok := <-s.Events(); ok {
		t.Error("Events open after Close")
	}
}

// TestDedupWindowIsBounded: the de-duplication set keeps a window of the
// latest items, not every item of the chat, and still drops a repeat of a
// recent one.
func TestDedupWindowIsBounded(t *testing.T) {
	s := NewSession(Details{}, Options{EventBuffer: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for range s.events {
		}
	}()
	const n = 10 * dedupWindow
	for i := range n {
		s.deliver(ctx, Item{ID: fmt.Sprint("item-", i), Type: "MESSAGE"})
	}
	s.mu.Lock()
	size := len(s.seen.keys)
	s.mu.Unlock()
	if size > dedupWindow {
		t.Errorf("%d items delivered, %d remembered; want at most %d", n, size, dedupWindow)
	}
	s.mu.Lock()
	again := s.seen.add(fmt.Sprint("item-", n-1))
	s.mu.Unlock()
	if again {
		t.Error("the latest item was forgotten")
	}
	close(s.events)
}

// TestItemContactID: an item of a persistent chat's past session comes
// with RelatedContactId instead of ContactId; Item.ContactID is either.
func TestItemContactID(t *testing.T) {
	for body, want := range map[string]string{
		`{"Id":"a","Type":"MESSAGE","ContactId":"now"}`:         "now",
		`{"Id":"b","Type":"MESSAGE","RelatedContactId":"past"}`: "past",
	} {
		var w wireItem
		if err := json.Unmarshal([]byte(body), &w); err != nil {
			t.Fatal(err)
		}
		if got := w.item().ContactID; got != want {
			t.Errorf("%s: ContactID %q, want %q", body, got, want)
		}
	}
}
