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

// TestPanicIsA500: a handler that panics before answering gets a 500 with
// generic text, the panic and its stack go to the log, and the request is
// counted with that status; nothing of the panic reaches the client.
func TestPanicIsA500(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /participant/message", func(w http.ResponseWriter, r *http.Request) {
		panic("secret detail /var/lib/parley")
	})
	srv := httptest.NewServer(Middleware(mux, log, NewMetrics()))
	defer srv.Close()
	srv.Config.ErrorLog = nil
	resp, err := http.Post(srv.URL+"/participant/message", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("a panicking handler dropped the connection: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("X-Amzn-ErrorType") != "InternalServerException" {
		t.Errorf("answer %d %q %s, want 500 InternalServerException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	if strings.Contains(string(body), "secret") || strings.Contains(string(body), "/var/lib") {
		t.Errorf("the answer leaks the panic: %s", body)
	}
	if line := buf.String(); !strings.Contains(line, "secret detail") || !strings.Contains(line, "status=500") {
		t.Errorf("log %q lacks the panic or the status", line)
	}
}

// TestPanicAfterHeaderDropsConnection: once the answer has begun, a panic
// can only cut it short; http.ErrAbortHandler stays silent.
func TestPanicAfterHeaderDropsConnection(t *testing.T) {
	log, _ := NewLogger(io.Discard, "text", "info")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /attachments/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	srv := httptest.NewServer(Middleware(mux, log, NewMetrics()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/attachments/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("a body cut short by a panic read whole")
	}
}
