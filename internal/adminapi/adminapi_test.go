package adminapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/sigv4"
)

// blockingBody is a body whose bytes never come, as a hostile client's.
type blockingBody struct{ read chan struct{} }

func (b *blockingBody) Read([]byte) (int, error) {
	close(b.read)
	select {} // never returns: the test fails by timing out if it is read
}
func (b *blockingBody) Close() error { return nil }

// TestUnsignedRequestIsRefusedBeforeItsBody: a request that carries no
// credentials is answered without its body being read, as the Connect API
// answers it, so that an anonymous client cannot hold the connection with
// a body it withholds.
func TestUnsignedRequestIsRefusedBeforeItsBody(t *testing.T) {
	v := &sigv4.Verifier{Service: "connect", Secret: func(string) (string, bool) { return "s", false }}
	a := New(nil, v, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mux := http.NewServeMux()
	a.Register(mux)
	body := &blockingBody{read: make(chan struct{})}
	req := httptest.NewRequest("POST", "/admin/v1/contacts/c1/erase", nil)
	req.Body = body
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { mux.ServeHTTP(w, req); close(done) }()
	select {
	case <-done:
	case <-body.read:
		t.Fatal("the body of an unsigned request was read before it was refused")
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
	}
	if w.Code != http.StatusForbidden {
		t.Errorf("unsigned request: %d %s, want 403", w.Code, w.Body)
	}
}
