package obs

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogLine: one line per request with its operation, status,
// bytes, contact and request id.
func TestAccessLogLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/message", func(w http.ResponseWriter, r *http.Request) {
		SetContact(r.Context(), "contact-1")
		w.Write([]byte(`{"Id":"x"}`))
	})
	h := Middleware(mux, log, NewMetrics())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/participant/message", strings.NewReader("{}")))
	line := buf.String()
	id := rec.Header().Get("X-Amzn-RequestId")
	for _, want := range []string{"msg=request", "op=SendMessage", "method=POST", "status=200", "bytes=10", "remote=192.0.2.1",
		"contact=contact-1", "request_id=" + id, "duration_ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("access log line %q lacks %q", line, want)
		}
	}
	if n := strings.Count(line, "\n"); n != 1 || id == "" {
		t.Errorf("%d lines, request id %q", n, id)
	}
}

// BenchmarkMiddleware is what every request pays for its id, access-log
// line and metrics.
func BenchmarkMiddleware(b *testing.B) {
	log, _ := NewLogger(io.Discard, "text", "info")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/message", func(w http.ResponseWriter, r *http.Request) {
		SetContact(r.Context(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
		w.Write([]byte(`{"AbsoluteTime":"2026-11-29T14:00:00.000Z","Id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`))
	})
	h := Middleware(mux, log, NewMetrics())
	req := httptest.NewRequest("POST", "/participant/message", nil)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}
