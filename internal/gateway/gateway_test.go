package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// setup returns a gateway on a test server and a function that hands out a
// websocket URL for a new chat's customer.
func setup(t *testing.T) (*Gateway, *chat.Service, func() (url, participantToken, contactID string)) {
	t.Helper()
	b := broker.NewMemory()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), b.Publish)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var base string
	svc := chat.New(chat.Config{InstanceID: "i", QueueID: "q", WebsocketURL: func(tok string) string { return base + "?token=" + tok }},
		st, secret.Key{3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	g := New(svc, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(g.Shutdown)
	base = "ws" + strings.TrimPrefix(srv.URL, "http")
	return g, svc, func() (string, string, string) {
		ctx := context.Background()
		c, err := svc.StartChat(ctx, chat.StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := svc.Connect(ctx, c.ParticipantToken, true, false, false)
		if err != nil {
			t.Fatal(err)
		}
		return conn.WebsocketURL, c.ParticipantToken, c.ContactID
	}
}

func dialStatus(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, url, nil)
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func TestURLMustBeOpenedWithin100Seconds(t *testing.T) {
	g, _, newURL := setup(t)
	url, _, _ := newURL()
	g.now = func() time.Time { return time.Now().Add(101 * time.Second) }
	if got := dialStatus(url); got != http.StatusForbidden {
		t.Errorf("a URL opened after 101 s: %d, want 403", got)
	}
	g.now = func() time.Time { return time.Now().Add(99 * time.Second) }
	if got := dialStatus(url); got != http.StatusSwitchingProtocols {
		t.Errorf("a URL opened after 99 s: %d, want it to open", got)
	}
}

func TestSocketClosesAtExpiryAndAfterEnd(t *testing.T) {
	g, svc, newURL := setup(t)
	ctx := context.Background()

	// A socket lives until its ConnectionExpiry: here the clock reads the
	// real time when the socket opens, and a second before expiry after.
	url, _, _ := newURL()
	calls := 0
	g.now = func() time.Time {
		if calls++; calls == 1 {
			return time.Now()
		}
		return time.Now().Add(24*time.Hour - time.Second)
	}
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, _, err = c.Read(rctx)
	cancel()
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("at expiry: %v, want a normal close", err)
	}
	g.now = time.Now

	// After the chat ends, the same kind of URL is refused.
	url, _, contactID := newURL()
	if err := svc.StopContact(ctx, "i", contactID); err != nil {
		t.Fatal(err)
	}
	if got := dialStatus(url); got != http.StatusForbidden {
		t.Errorf("a URL of an ended chat: %d, want 403", got)
	}
}

// BenchmarkEncodeItem is the work of pushing one item to one socket.
func BenchmarkEncodeItem(b *testing.B) {
	it := store.Item{Seq: 1, ID: secret.NewTimeUUID(), ContactID: secret.NewUUID(), ParticipantID: secret.NewUUID(),
		Type: "MESSAGE", ContentType: "text/plain", Content: "Hello, I have a question about my order 1234.",
		DisplayName: "Ada", Role: "CUSTOMER", Time: time.Now(), InTranscript: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeItem(it, it.ContactID); err != nil {
			b.Fatal(err)
		}
	}
}
