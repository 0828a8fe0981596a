package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestHeartbeatsKeepSocketsAlive: every socket added gets ChatJS's heartbeat
// each interval, and none once stopped.
func TestHeartbeatsKeepSocketsAlive(t *testing.T) {
	var beats atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if string(b) == `{"topic":"aws/heartbeat"}` {
				beats.Add(1)
			}
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	hb := newBeater(20 * time.Millisecond)
	for range 3 { // added after it started, as the figures add them
		s, err := dialRaw(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"))
		if err != nil {
			hb.stop()
			t.Fatal(err)
		}
		defer s.conn.CloseNow()
		hb.add(s)
	}
	stop := hb.stop
	for deadline := time.Now().Add(5 * time.Second); beats.Load() < 6; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d heartbeats in 5 s on 3 sockets every 20 ms", beats.Load())
		}
	}
	stop()
	time.Sleep(50 * time.Millisecond) // the last ones in flight arrive
	n := beats.Load()
	time.Sleep(100 * time.Millisecond)
	if beats.Load() != n {
		t.Errorf("heartbeats went on after stop: %d, then %d", n, beats.Load())
	}
}
