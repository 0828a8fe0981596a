package parley

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// watchedReader yields size bytes in small reads, noting any read that
// comes after returned is set.
type watchedReader struct {
	left     int
	returned *atomic.Bool
	late     *atomic.Int32
}

func (r *watchedReader) Read(p []byte) (int, error) {
	if r.returned.Load() {
		r.late.Add(1)
	}
	if r.left == 0 {
		return 0, errors.New("no more")
	}
	time.Sleep(time.Millisecond)
	n := min(len(p), r.left, 16<<10)
	r.left -= n
	return n, nil
}

// TestSendAttachmentReleasesBody: once SendAttachment has returned, here
// after the upload URL refused the PUT before reading it, neither the body
// nor the progress callback is used any more (the transport may go on
// writing the body after the answer came).
func TestSendAttachmentReleasesBody(t *testing.T) {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/start-attachment-upload", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"AttachmentId":"a1","UploadMetadata":{"Url":%q,"HeadersToInclude":{"Content-Type":"text/plain"}}}`, srv.URL+"/upload")
	})
	mux.HandleFunc("PUT /upload", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "signature does not match", http.StatusForbidden) // without reading the body
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	s := NewSession(Details{}, Options{Endpoint: srv.URL})

	var returned atomic.Bool
	var late, lateProgress atomic.Int32
	const size = 8 << 20
	_, err := s.SendAttachment(context.Background(), &SendAttachmentInput{Name: "a.txt", ContentType: "text/plain", Size: size,
		Body: &watchedReader{left: size, returned: &returned, late: &late},
		Progress: func(done, total int64) {
			if returned.Load() {
				lateProgress.Add(1)
			}
		}})
	returned.Store(true)
	var te *TransferError
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		t.Fatalf("SendAttachment: %v, want a TransferError 403", err)
	}
	time.Sleep(300 * time.Millisecond)
	if n, p := late.Load(), lateProgress.Load(); n > 0 || p > 0 {
		t.Errorf("after SendAttachment returned, the body was read %d times and progress told %d times", n, p)
	}
}
