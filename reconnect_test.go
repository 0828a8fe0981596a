package parley

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// flakyTranscriptService is a participant service whose first websocket
// drops at once, and whose transcript is empty at connect time, then fails
// with 500 for the catch-up's three attempts, then holds one message.
func flakyTranscriptService(t *testing.T) string {
	t.Helper()
	var srv *httptest.Server
	var sockets, transcripts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/connection", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"Websocket":{"Url":%q,"ConnectionExpiry":"2099-01-01T00:00:00Z"},"ConnectionCredentials":{"ConnectionToken":"tok","Expiry":"2099-01-01T00:00:00Z"}}`,
			"ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	})
	mux.HandleFunc("POST /participant/transcript", func(w http.ResponseWriter, r *http.Request) {
		switch n := transcripts.Add(1); {
		case n == 1: // Connect's look at the newest item
			fmt.Fprint(w, `{"Transcript":[]}`)
		case n <= 4: // the first catch-up, all three attempts
			w.Header().Set("X-Amzn-ErrorType", "InternalServerException")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"Message":"try again"}`)
		default:
			fmt.Fprint(w, `{"Transcript":[{"Id":"m2","Type":"MESSAGE","ContentType":"text/plain","Content":"missed"}]}`)
		}
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
		if sockets.Add(1) == 1 {
			return // the first socket drops
		}
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCatchUpFailureIsRetried: when the catch-up after a reconnect fails
// (the service answers 500 to every attempt), the session does not report
// itself restored and forget what it missed: it tries again, and the missed
// message arrives.
func TestCatchUpFailureIsRetried(t *testing.T) {
	s := NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: flakyTranscriptService(t)})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	timeout := time.After(15 * time.Second)
	var got []string
	for {
		select {
		case e := <-s.Events():
			switch e := e.(type) {
			case *Message:
				got = append(got, "message "+e.Content)
				if e.Content == "missed" {
					return
				}
			default:
				got = append(got, fmt.Sprintf("%T", e))
			}
		case <-timeout:
			b, _ := json.Marshal(got)
			t.Fatalf("the message sent while disconnected never arrived; events: %s", b)
		}
	}
}

// TestCatchUpFailuresBackOff: a catch-up that keeps failing does not make
// the session reconnect twice a second for ever: the backoff grows.
func TestCatchUpFailuresBackOff(t *testing.T) {
	var srv *httptest.Server
	var connections, transcripts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/connection", func(w http.ResponseWriter, r *http.Request) {
		connections.Add(1)
		fmt.Fprintf(w, `{"Websocket":{"Url":%q,"ConnectionExpiry":"2099-01-01T00:00:00Z"},"ConnectionCredentials":{"ConnectionToken":"tok","Expiry":"2099-01-01T00:00:00Z"}}`,
			"ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")
	})
	mux.HandleFunc("POST /participant/transcript", func(w http.ResponseWriter, r *http.Request) {
		if transcripts.Add(1) == 1 {
			fmt.Fprint(w, `{"Transcript":[{"Id":"m1","Type":"MESSAGE","ContentType":"text/plain","Content":"hi"}]}`)
			return
		}
		w.Header().Set("X-Amzn-ErrorType", "ValidationException")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"Message":"StartPosition Id m1 is not an item of this transcript."}`)
	})
	var sockets atomic.Int32
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`))
		if sockets.Add(1) == 1 {
			return // the first socket drops
		}
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	s := NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: srv.URL})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range s.Events() {
		}
	}()
	time.Sleep(4 * time.Second)
	s.Close()
	if n := connections.Load(); n > 5 {
		t.Errorf("%d CreateParticipantConnection calls in 4 s of failing catch-ups; want the backoff to grow", n)
	}
}
