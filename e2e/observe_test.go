package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/request"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/testfiles"
)

// syncBuffer is a log sink the server writes from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// startLoggedServer runs a server whose JSON log goes to the returned sink.
func startLoggedServer(t *testing.T, extraEnv ...string) (*testServer, *syncBuffer) {
	t.Helper()
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": t.TempDir(), "PARLEY_ACCESS_KEY_ID": testAKID,
		"PARLEY_SECRET_ACCESS_KEY": testSecret, "PARLEY_INSTANCE_ID": "test-instance", "PARLEY_LOG_FORMAT": "json", "PARLEY_LOG_LEVEL": "info"}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sink := &syncBuffer{}
	log, err := obs.NewLogger(sink, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	ts := &testServer{URL: srv.URL(), InstanceID: cfg.InstanceID, DataDir: env["PARLEY_DATA_DIR"], srv: srv}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ts, sink
}

// scrape reads /metrics with Prometheus's own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the metrics do not parse: %v", err)
	}
	return fams
}

// value sums a family's samples whose labels include want.
func value(f *dto.MetricFamily, want map[string]string) float64 {
	if f == nil {
		return -1
	}
	var sum float64
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

var uuidish = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`)

// TestMetricsAndLogs drives traffic and reads it back: the metrics parse
// with Prometheus's parser and count it, no label carries an id, every log
// line of a request carries the request id the client got, there is one
// access line per request with its operation and contact, and no token or
// message content is ever logged.
func TestMetricsAndLogs(t *testing.T) {
	ts, sink := startLoggedServer(t, withClamd(t)...)
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	ws := dialChat(t, ts, chat.ParticipantToken)
	pc := ts.participantClient()
	const content = "a private message body"
	var reqID string
	in := sendInput(tok, content)
	req, _ := pc.SendMessageRequest(in)
	req.Handlers.Complete.PushBack(func(r *request.Request) { reqID = r.RequestID })
	if err := req.Send(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := pc.SendMessage(sendInput(tok, content)); err != nil {
			t.Fatal(err)
		}
	}
	// A bad token: refused, counted and logged as a failed authentication.
	if _, err := pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String("not-a-token")}); err == nil {
		t.Fatal("a bad token was accepted")
	}

	// An attachment: its verdict and the check's time are counted.
	attID := upload(t, ts, tok, testfiles.All()[0])
	attachmentURL(t, ts, tok, attID, 60)

	fams := scrape(t, ts.URL+"/metrics")
	if got := value(fams["parley_attachments_total"], map[string]string{"verdict": "APPROVED"}); got != 1 {
		t.Errorf("approved attachments counted: %v, want 1", got)
	}
	if got := value(fams["parley_attachment_check_duration_seconds"], nil); got != 1 {
		t.Errorf("attachment checks timed: %v, want 1", got)
	}
	if got := value(fams["parley_attachment_scan_duration_seconds"], nil); got != 1 {
		t.Errorf("clamd scans timed: %v, want 1", got)
	}
	if got := value(fams["parley_http_requests_total"], map[string]string{"operation": "SendMessage", "code": "200"}); got != 5 {
		t.Errorf("SendMessage 200s counted: %v, want 5", got)
	}
	if got := value(fams["parley_http_request_duration_seconds"], map[string]string{"operation": "SendMessage"}); got != 5 {
		t.Errorf("SendMessage latencies observed: %v, want 5", got)
	}
	if got := value(fams["parley_http_auth_failures_total"], map[string]string{"operation": "GetTranscript"}); got != 1 {
		t.Errorf("auth failures: %v, want 1", got)
	}
	if got := value(fams["parley_websocket_connections"], nil); got != 1 {
		t.Errorf("open websockets: %v, want 1", got)
	}
	if got := value(fams["parley_websocket_subscriptions"], nil); got != 1 {
		t.Errorf("chats followed: %v, want 1", got)
	}
	if got := value(fams["parley_websocket_queued_frames"], nil); got < 0 {
		t.Errorf("no queued-frames gauge")
	}
	// Five messages, the chat's start and more: committed in batches.
	if got := value(fams["parley_store_items_committed_total"], nil); got < 6 {
		t.Errorf("items committed: %v, want at least 6", got)
	}
	if c, b := value(fams["parley_store_commits_total"], nil), value(fams["parley_store_batch_changes"], nil); c < 1 || b != c {
		t.Errorf("commits %v, batch sizes observed %v", c, b)
	}
	if got := value(fams["parley_store_sync_duration_seconds"], nil); got < 1 {
		t.Errorf("commit syncs timed: %v", got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if uuidish.MatchString(l.GetValue()) {
					t.Errorf("%s has an id as a label value: %s=%s", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	// The Grafana dashboard graphs only metrics that exist.
	dash, err := os.ReadFile("../deploy/grafana/parley-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\b(parley|process|go)_[a-z_]+`).FindAllString(string(dash), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if fams[base] == nil && fams[name] == nil {
			t.Errorf("the dashboard graphs %s, which Parley does not export", name)
		}
	}
	ws.conn.CloseNow()

	lines := sink.lines()
	var access, forRequest int
	for _, l := range lines {
		raw, _ := json.Marshal(l)
		for _, secret := range []string{tok, chat.ParticipantToken, content} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("a log line holds a token or message content: %s", raw)
			}
		}
		if l["request_id"] == reqID {
			forRequest++
			if l["msg"] == "request" {
				access++
				if l["op"] != "SendMessage" || l["status"] != float64(200) || l["contact"] != chat.ContactID {
					t.Errorf("access line: %s", raw)
				}
			}
		}
	}
	if access != 1 || forRequest < 1 {
		t.Errorf("the SendMessage request %s has %d access lines (want 1)", reqID, access)
	}
	var authLines int
	for _, l := range lines {
		if l["msg"] == "authentication failed" && l["op"] == "GetTranscript" && l["request_id"] != nil {
			authLines++
		}
	}
	if authLines != 1 {
		t.Errorf("%d 'authentication failed' lines, want 1", authLines)
	}
}

// TestFailedAuthenticationLinesAreRateLimited: a flood of bad tokens yields
// ten lines a minute, not one per request, and the metric counts them all.
func TestFailedAuthenticationLinesAreRateLimited(t *testing.T) {
	ts, sink := startLoggedServer(t)
	for range 30 {
		rawRequest(t, "POST", ts.URL+"/participant/transcript", map[string]string{"X-Amz-Bearer": "bad"}, "{}")
	}
	n := 0
	for _, l := range sink.lines() {
		if l["msg"] == "authentication failed" {
			n++
		}
	}
	if n != 10 {
		t.Errorf("%d 'authentication failed' lines for 30 failures, want 10", n)
	}
	if got := value(scrape(t, ts.URL+"/metrics")["parley_http_auth_failures_total"], nil); got != 30 {
		t.Errorf("auth failures counted: %v, want 30", got)
	}
}

// TestMetricsOnTheirOwnAddress: with PARLEY_METRICS_ADDR the metrics move
// off the public listener.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	ln := freeAddr(t)
	ts, _ := startLoggedServer(t, "PARLEY_METRICS_ADDR", ln)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + ln + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(b, []byte("parley_http_requests_total")) || bytes.Contains(b, []byte("go_goroutines")) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics on %s: %v", ln, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := rawRequest(t, "GET", ts.URL+"/metrics", nil, ""); resp.StatusCode == 200 || bytes.Contains(body, []byte("go_goroutines")) {
		t.Errorf("the public listener still serves /metrics: %d", resp.StatusCode)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
