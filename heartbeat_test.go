package parley

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// slowCancelTransport answers the first CreateParticipantConnection and
// holds later ones (the token refreshes) until their context ends, then
// takes a moment to give up, as a transport closing a connection may.
type slowCancelTransport struct {
	connections atomic.Int32
	refreshing  chan struct{}
}

func (t *slowCancelTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/participant/connection" && t.connections.Add(1) > 1 {
		close(t.refreshing)
		<-r.Context().Done()
		time.Sleep(300 * time.Millisecond)
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestCloseWaitsForHeartbeat: Close returns only once every goroutine of
// the session is gone, the heartbeat (and its token refresh) included.
func TestCloseWaitsForHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a heartbeat")
	}
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/connection", func(w http.ResponseWriter, r *http.Request) {
		// A token that expires within the minute: the first heartbeat refreshes it.
		fmt.Fprintf(w, `{"Websocket":{"Url":%q,"ConnectionExpiry":"2099-01-01T00:00:00Z"},"ConnectionCredentials":{"ConnectionToken":"tok","Expiry":%q}}`,
			"ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", time.Now().Add(30*time.Second).UTC().Format(time.RFC3339))
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
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`))
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if strings.Contains(string(b), "aws/heartbeat") {
				c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/heartbeat"}`))
			}
		}
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()

	tr := &slowCancelTransport{refreshing: make(chan struct{})}
	s := NewSession(Details{ParticipantToken: "p"}, Options{Endpoint: srv.URL, HTTPClient: &http.Client{Transport: tr}})
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tr.refreshing:
	case <-time.After(2 * heartbeatEvery):
		t.Fatal("no token refresh")
	}
	s.Close()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "(*Session).heartbeat") {
		t.Errorf("the heartbeat goroutine outlived Close:\n%s", stacks)
	}
}
