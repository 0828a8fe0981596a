package webapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// TestWidgetLimiter: PerMinute chats from an address at once, then none
// until the bucket refills (one every 60/PerMinute s); addresses do not
// share buckets. netlimit's own tests cover the refill and the sweep.
func TestWidgetLimiter(t *testing.T) {
	l := widgetLimiter(3)
	for i := range 3 {
		if !l.Allow("1.2.3.4") {
			t.Fatalf("request %d refused within the rate", i+1)
		}
	}
	if l.Allow("1.2.3.4") {
		t.Error("a fourth request within the minute was allowed")
	}
	if !l.Allow("5.6.7.8") {
		t.Error("another address shares the first one's bucket")
	}
}

// fixture is a web API over a real store, with its log captured.
type fixture struct {
	api *API
	svc *chat.Service
	mux *http.ServeMux
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	svc := chat.New(chat.Config{InstanceID: "i", QueueID: "q",
		WebsocketURL: func(tok string) string { return "ws://127.0.0.1:1/ws?token=" + tok }}, st, secret.Key{9}, log)
	t.Cleanup(func() { svc.Close(); st.Close() })
	cfg.Enabled = true
	if cfg.Origins == nil {
		cfg.Origins = []string{"*"}
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://127.0.0.1:8080"
	}
	api := New(cfg, svc, log)
	mux := http.NewServeMux()
	api.Register(mux)
	return &fixture{api: api, svc: svc, mux: mux, log: buf}
}

// do sends a request from remote with the given headers.
func (f *fixture) do(method, path, remote string, header map[string]string, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

func (f *fixture) start(remote string, header map[string]string) *httptest.ResponseRecorder {
	return f.do("POST", "/widget/v1/chats", remote, header, `{"DisplayName":"Ada","Attributes":{"plan":"pro"}}`)
}

// TestWidgetRateZeroIsNotUnlimited: a zero rate means the default, never no
// limit (the configuration refuses it too).
func TestWidgetRateZeroIsNotUnlimited(t *testing.T) {
	f := newFixture(t, Config{PerMinute: 0})
	for i := range DefaultPerMinute {
		if w := f.start("198.51.100.1:1000", nil); w.Code != 200 {
			t.Fatalf("chat %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	if w := f.start("198.51.100.1:1000", nil); w.Code != 429 {
		t.Errorf("chat %d in a minute from one address: %d, want 429", DefaultPerMinute+1, w.Code)
	}
}

// TestWidgetRateBehindTrustedProxy: behind a trusted proxy each client has
// its own bucket, and a client that is not a proxy cannot choose its
// address with X-Forwarded-For.
func TestWidgetRateBehindTrustedProxy(t *testing.T) {
	f := newFixture(t, Config{PerMinute: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	proxy := "10.0.0.2:5555"
	for _, client := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		if w := f.start(proxy, map[string]string{"X-Forwarded-For": "6.6.6.6, " + client}); w.Code != 200 {
			t.Errorf("client %s behind the proxy: %d %s", client, w.Code, w.Body)
		}
	}
	if w := f.start(proxy, map[string]string{"X-Forwarded-For": "7.7.7.7, 198.51.100.1"}); w.Code != 429 {
		t.Errorf("a client's second chat with another spoofed left entry: %d, want 429", w.Code)
	}
	direct := "203.0.113.9:4444"
	if w := f.start(direct, map[string]string{"X-Forwarded-For": "192.0.2.1"}); w.Code != 200 {
		t.Fatalf("first direct chat: %d", w.Code)
	}
	if w := f.start(direct, map[string]string{"X-Forwarded-For": "192.0.2.2"}); w.Code != 429 {
		t.Errorf("an untrusted client rotating X-Forwarded-For escaped the limit: %d", w.Code)
	}
}

// TestWidgetRateIPv6Per64: rotating addresses within one /64 shares one
// bucket.
func TestWidgetRateIPv6Per64(t *testing.T) {
	f := newFixture(t, Config{PerMinute: 2})
	for i := range 2 {
		if w := f.start(fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1), nil); w.Code != 200 {
			t.Fatalf("chat %d: %d", i+1, w.Code)
		}
	}
	if w := f.start("[2001:db8:1:2:ffff::9]:1000", nil); w.Code != 429 {
		t.Errorf("a third address of the same /64: %d, want 429", w.Code)
	}
	if w := f.start("[2001:db8:1:3::1]:1000", nil); w.Code != 200 {
		t.Errorf("another /64: %d, want 200", w.Code)
	}
}

// TestWidgetQueueCeiling: at most MaxQueued widget chats wait at once, even
// when a burst arrives together; beyond it the widget gets 503 with plain
// words. Chats started through the Connect API are neither counted nor
// refused.
func TestWidgetQueueCeiling(t *testing.T) {
	const ceiling = 5
	f := newFixture(t, Config{PerMinute: 1000, MaxQueued: ceiling})
	var ok, full atomic.Int32
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := f.start(fmt.Sprintf("198.51.100.%d:1", i), nil)
			switch w.Code {
			case 200:
				ok.Add(1)
			case 503:
				full.Add(1)
				if !strings.Contains(w.Body.String(), "try again in a few minutes") || w.Header().Get("Retry-After") == "" {
					t.Errorf("a full queue answered %s with Retry-After %q", w.Body, w.Header().Get("Retry-After"))
				}
			default:
				t.Errorf("unexpected answer %d %s", w.Code, w.Body)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != ceiling || full.Load() != 30-ceiling {
		t.Errorf("%d chats started and %d refused, want %d and %d", ok.Load(), full.Load(), ceiling, 30-ceiling)
	}
	if _, err := f.svc.StartChat(context.Background(), chat.StartChatInput{InstanceID: "i", FlowID: "api", DisplayName: "Bo"}); err != nil {
		t.Errorf("a Connect API chat with the widget queue full: %v", err)
	}
}

type queueAnswer struct {
	Waiting []struct {
		ContactId, CustomerName        string
		Attributes, CustomerAttributes map[string]string
	}
	Total     int
	NextToken string
}

func (f *fixture) agentKey(t *testing.T, name string) string {
	t.Helper()
	key, err := f.svc.AddAgent(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (f *fixture) queue(t *testing.T, key, query string) queueAnswer {
	t.Helper()
	w := f.do("GET", "/agent/v1/queue"+query, "127.0.0.1:1", map[string]string{"Authorization": "Bearer " + key}, "")
	if w.Code != 200 {
		t.Fatalf("queue%s: %d %s", query, w.Code, w.Body)
	}
	var q queueAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &q); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestQueuePages: every waiting chat is on some page, in order, and each
// page says how many wait in all.
func TestQueuePages(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	var want []string
	for i := range 130 {
		out, err := f.svc.StartChat(ctx, chat.StartChatInput{InstanceID: "i", FlowID: "api", DisplayName: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, out.ContactID)
	}
	key := f.agentKey(t, "Grace")
	var got []string
	token, pages := "", 0
	for {
		q := f.queue(t, key, "?next="+token)
		pages++
		if q.Total != len(want) {
			t.Errorf("page %d says %d waiting, want %d", pages, q.Total, len(want))
		}
		for _, w := range q.Waiting {
			got = append(got, w.ContactId)
		}
		if q.NextToken == "" {
			break
		}
		if pages > 10 {
			t.Fatal("the pages never end")
		}
		token = q.NextToken
	}
	// Chats of one millisecond are ordered by id: compare as sets.
	slices.Sort(got)
	slices.Sort(want)
	if pages != 6 || !slices.Equal(got, want) {
		t.Errorf("%d pages held %d chats; want 6 pages with each of the %d once", pages, len(got), len(want))
	}
	if q := f.queue(t, key, "?limit=100"); len(q.Waiting) != 100 || q.NextToken == "" {
		t.Errorf("limit=100: %d chats, next %q", len(q.Waiting), q.NextToken)
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?limit=x", "?next=%25%25"} {
		w := f.do("GET", "/agent/v1/queue"+bad, "127.0.0.1:1", map[string]string{"Authorization": "Bearer " + key}, "")
		if w.Code != 400 {
			t.Errorf("queue%s: %d, want 400", bad, w.Code)
		}
	}
}

// TestCustomerSuppliedAttributes: what a browser sends through the widget
// comes back as CustomerAttributes, never as Attributes (which the Connect
// API sets), in the queue and to the agent who accepts.
func TestCustomerSuppliedAttributes(t *testing.T) {
	f := newFixture(t, Config{})
	w := f.do("POST", "/widget/v1/chats", "198.51.100.1:1", nil, `{"DisplayName":"Mallory","Attributes":{"verified":"true","tier":"gold"}}`)
	if w.Code != 200 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	var started struct{ ContactId string }
	json.Unmarshal(w.Body.Bytes(), &started)
	_, err := f.svc.StartChat(context.Background(), chat.StartChatInput{InstanceID: "i", FlowID: "api", DisplayName: "Ada",
		Attributes: map[string]string{"verified": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	key := f.agentKey(t, "Grace")
	q := f.queue(t, key, "")
	if len(q.Waiting) != 2 {
		t.Fatalf("queue: %+v", q)
	}
	// Two chats started in one millisecond are ordered by id: find each by its id.
	widget, api := q.Waiting[0], q.Waiting[1]
	if widget.ContactId != started.ContactId {
		widget, api = api, widget
	}
	if widget.ContactId != started.ContactId {
		t.Fatalf("the widget chat %s is not in the queue: %+v", started.ContactId, q)
	}
	if len(widget.Attributes) != 0 || widget.CustomerAttributes["verified"] != "true" || widget.CustomerAttributes["tier"] != "gold" {
		t.Errorf("the widget chat's attributes: %v, customer-supplied %v", widget.Attributes, widget.CustomerAttributes)
	}
	if api.Attributes["verified"] != "true" || len(api.CustomerAttributes) != 0 {
		t.Errorf("the API chat's attributes: %v, customer-supplied %v", api.Attributes, api.CustomerAttributes)
	}
	w = f.do("POST", "/agent/v1/chats/"+started.ContactId+"/accept", "127.0.0.1:1", map[string]string{"Authorization": "Bearer " + key}, "")
	var accepted struct{ Attributes, CustomerAttributes map[string]string }
	json.Unmarshal(w.Body.Bytes(), &accepted)
	if w.Code != 200 || len(accepted.Attributes) != 0 || accepted.CustomerAttributes["tier"] != "gold" {
		t.Errorf("accept: %d %s", w.Code, w.Body)
	}
}

// TestOriginIsNotTakenFromHost: a page on a rebinding name sends its own
// name as Host and Origin; only the public URL's origin is Parley's own.
func TestOriginIsNotTakenFromHost(t *testing.T) {
	f := newFixture(t, Config{PerMinute: 100, PublicURL: "http://127.0.0.1:8080", Origins: []string{"https://shop.example"}})
	r := httptest.NewRequest("POST", "http://rebind.example:8080/widget/v1/chats", strings.NewReader(`{"DisplayName":"Ada"}`))
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Origin", "http://rebind.example:8080")
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	if r.Host != "rebind.example:8080" || w.Code != 403 {
		t.Errorf("a rebound page (Host %s) answered %d, want 403", r.Host, w.Code)
	}
	for _, origin := range []string{"http://127.0.0.1:8080", "https://shop.example"} {
		if w := f.start("127.0.0.1:1", map[string]string{"Origin": origin}); w.Code != 200 {
			t.Errorf("origin %s: %d", origin, w.Code)
		}
	}
	if originOf("https://Chat.Example.com:443/base") != "https://chat.example.com" {
		t.Errorf("originOf: %s", originOf("https://Chat.Example.com:443/base"))
	}
}

// TestFailedSignInsAreLogged: refused console keys are logged with the
// client's address, a few lines a minute at most, and never the key.
func TestFailedSignInsAreLogged(t *testing.T) {
	f := newFixture(t, Config{})
	const guess = "guessed-key-0123456789"
	for range 50 {
		if w := f.do("GET", "/agent/v1/me", "203.0.113.7:1", map[string]string{"Authorization": "Bearer " + guess}, ""); w.Code != 403 {
			t.Fatalf("a wrong key: %d", w.Code)
		}
	}
	out := f.log.String()
	lines := strings.Count(out, "console sign-in failed")
	if lines < 1 || lines > 10 {
		t.Errorf("%d lines logged for 50 failures, want 1 to 10:\n%s", lines, out)
	}
	if !strings.Contains(out, "203.0.113.7") {
		t.Errorf("the log does not name the client:\n%s", out)
	}
	if strings.Contains(out, guess) {
		t.Errorf("the log holds the key:\n%s", out)
	}
	l := &logLimiter{perMinute: 2}
	now := time.Now()
	l.allow(now)
	l.allow(now)
	l.allow(now)
	if ok, skipped := l.allow(now.Add(time.Minute)); !ok || skipped != 1 {
		t.Errorf("next minute: %v, %d skipped; want true, 1", ok, skipped)
	}
}

// TestConfiguredOriginsAreNormalised: a browser sends its origin lower
// case and without a default port; an operator's PARLEY_WIDGET_ORIGINS
// written otherwise names the same origin.
func TestConfiguredOriginsAreNormalised(t *testing.T) {
	f := newFixture(t, Config{PerMinute: 100, PublicURL: "http://127.0.0.1:8080",
		Origins: []string{"https://Shop.Example:443", "HTTP://other.example:8443"}})
	for origin, want := range map[string]int{
		"https://shop.example":       200,
		"http://other.example:8443":  200,
		"https://other.example:8443": 403,
	} {
		if w := f.start("127.0.0.1:1", map[string]string{"Origin": origin}); w.Code != want {
			t.Errorf("origin %s: %d, want %d", origin, w.Code, want)
		}
	}
}
