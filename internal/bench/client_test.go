package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestPosterKeepsOneConnection: the poster sends what it is given, reads
// whole responses, reuses its connection, and redials after the server
// closes one.
func TestPosterKeepsOneConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.Header.Get("X-Amz-Bearer") != "tok" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if string(body) == "close" {
			w.Header().Set("Connection", "close")
		}
		w.Write(append([]byte("echo:"), body...))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	p, err := newPoster(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx := context.Background()
	for _, body := range []string{"a", "b", "close", "c"} {
		status, err := p.post(ctx, "/x", []byte(body), "X-Amz-Bearer: tok")
		if err != nil || status != 200 {
			t.Fatalf("post %q: %d %v", body, status, err)
		}
	}
	if status, _ := p.post(ctx, "/x", []byte("d")); status != http.StatusBadRequest {
		t.Errorf("without the header: %d, want 400", status)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for five requests and one close, want 2", n)
	}
}
