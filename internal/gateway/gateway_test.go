package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/race"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// setup returns a gateway on a test server and a function that hands out a
// websocket URL for a new chat's customer.
func setup(t *testing.T) (*Gateway, *chat.Service, func() (url, participantToken, contactID string)) {
	return setupLosing(t, nil)
}

// setupLosing is setup with a broker that loses the committed items lost
// reports true for, as a bus may.
func setupLosing(t *testing.T, lost func(store.Item) bool) (*Gateway, *chat.Service, func() (url, participantToken, contactID string)) {
	t.Helper()
	return setupOn(t, broker.NewMemory(), lost)
}

// setupOn is setupLosing on a given broker.
func setupOn(t *testing.T, b broker.Broker, lost func(store.Item) bool) (*Gateway, *chat.Service, func() (url, participantToken, contactID string)) {
	t.Helper()
	p := broker.NewPublisher(b, slog.New(slog.DiscardHandler))
	hook := p.Committed
	if lost != nil {
		hook = func(items []store.Item) {
			var kept []store.Item
			for _, it := range items {
				if !lost(it) {
					kept = append(kept, it)
				}
			}
			p.Committed(kept)
		}
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(); p.Close() })
	var base string
	svc := chat.New(chat.Config{InstanceID: "i", QueueID: "q", WebsocketURL: func(tok string) string { return base + "?token=" + tok }},
		st, secret.Key{3}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	g := New(svc, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
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

// subscribedSocket opens a websocket and subscribes it, as ChatJS does;
// the test's end closes it.
func subscribedSocket(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`))
	if _, ack, err := c.Read(ctx); err != nil || !strings.Contains(string(ack), "success") {
		t.Fatalf("subscribe: %s, %v", ack, err)
	}
	return c
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
	// The clock is read by the server's goroutines: it is set once, before
	// any, and switched back through an atomic.
	url, _, _ := newURL()
	var calls atomic.Int32
	var shifted atomic.Bool
	shifted.Store(true)
	g.now = func() time.Time {
		if shifted.Load() && calls.Add(1) > 1 {
			return time.Now().Add(24*time.Hour - time.Second)
		}
		return time.Now()
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
	shifted.Store(false)

	// After the chat ends, the same kind of URL is refused.
	url, _, contactID := newURL()
	if err := svc.StopContact(ctx, "i", contactID); err != nil {
		t.Fatal(err)
	}
	if got := dialStatus(url); got != http.StatusForbidden {
		t.Errorf("a URL of an ended chat: %d, want 403", got)
	}
}

// TestSilentSocketIsClosed: a socket whose client stops sending is closed
// with a close handshake (1008), while one that keeps sending stays open.
func TestSilentSocketIsClosed(t *testing.T) {
	g, _, newURL := setup(t)
	ctx := context.Background()
	dial := func() *websocket.Conn {
		url, _, _ := newURL()
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	silent, talking := dial(), dial()
	// The server counts a socket live after its open is stamped, which
	// may come a while after the client's Dial returned on a loaded
	// machine: wait for both, rather than for a fixed time.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		g.mu.Lock()
		n := len(g.live)
		g.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets live, want 2", n)
		}
	}
	time.Sleep(5 * time.Millisecond) // a mark strictly after both opens
	mark := time.Now()
	if err := talking.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/heartbeat"}`)); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, got, err := talking.Read(rctx); err != nil || string(got) != string(heartbeat) {
		t.Fatalf("heartbeat reply %s, %v", got, err)
	}
	g.closeSilent(mark)

	_, _, err := silent.Read(rctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("silent socket: %v, want closed with 1008", err)
	}
	if err := talking.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/ping"}`)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := talking.Read(rctx); err != nil || string(got) != string(pong) {
		t.Errorf("the socket that sent: %s, %v; want it open and answering", got, err)
	}
}

// rawSocket opens a participant websocket over plain TCP, so that the
// client's own cost is a few hundred bytes, and sends early (masked frame
// bytes) in the same write as the upgrade request.
func rawSocket(t *testing.T, url string, early []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(c, 256)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return c, br
}

// clientFrame is a masked text frame, as clients must send.
func clientFrame(text string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	f := []byte{0x81, 0x80 | byte(len(text)), mask[0], mask[1], mask[2], mask[3]}
	for i := range len(text) {
		f = append(f, text[i]^mask[i%4])
	}
	return f
}

// serverText reads one unmasked text frame of under 126 bytes.
func serverText(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	h := make([]byte, 2)
	if _, err := io.ReadFull(br, h); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x81 || h[1] >= 126 {
		t.Fatalf("frame header % x", h)
	}
	b := make([]byte, h[1])
	if _, err := io.ReadFull(br, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFramesSentWithTheUpgradeAreAnswered: bytes that arrive with the
// upgrade request sit in memory, not in the socket, so the wait for
// readability must not hide them.
func TestFramesSentWithTheUpgradeAreAnswered(t *testing.T) {
	_, _, newURL := setup(t)
	url, _, _ := newURL()
	early := append(clientFrame(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`), clientFrame(`{"topic":"aws/heartbeat"}`)...)
	c, br := rawSocket(t, url, early)
	if got := serverText(t, c, br); !strings.Contains(got, `"aws/subscribe"`) {
		t.Errorf("first reply %s, want the subscription", got)
	}
	if got := serverText(t, c, br); got != string(heartbeat) {
		t.Errorf("second reply %s, want the heartbeat", got)
	}
	// And a frame after a pause, which the socket waited for.
	time.Sleep(50 * time.Millisecond)
	c.Write(clientFrame(`{"topic":"aws/ping"}`))
	if got := serverText(t, c, br); got != string(pong) {
		t.Errorf("reply to a ping %s, want %s", got, pong)
	}
}

// TestIdleSocketCost: an idle, subscribed socket costs the server a few
// KB of heap and stack: no goroutine and no buffer wait for its client, the
// poller does. Waiting in coder/websocket with small buffers and a shallow
// stack it cost about 12 KB; a goroutine per socket, about 22 KB.
func TestIdleSocketCost(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	_, _, newURL := setup(t)
	const n = 500
	urls := make([]string, n)
	for i := range urls {
		urls[i], _, _ = newURL()
	}
	inUse := func() uint64 {
		var m runtime.MemStats
		for range 5 {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	open := func() float64 {
		before := inUse()
		for _, url := range urls {
			c, br := rawSocket(t, url, nil)
			c.Write(clientFrame(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`))
			serverText(t, c, br)
		}
		return float64(inUse()-before) / n / 1024
	}
	goroutines := runtime.NumGoroutine()
	per := open()
	// No goroutine waits for an idle socket's client: the poller does.
	if grew := runtime.NumGoroutine() - goroutines; grew > n/10 {
		t.Errorf("%d goroutines more for %d idle sockets", grew, n)
	}
	// A second socket of each participant: its chat is followed already,
	// so it costs only the websocket.
	second := open()
	t.Logf("%.1f KB per idle socket, client included: %.1f KB the websocket, %.1f KB the chat state", per, second, per-second)
	limit := 6.0
	if race.Enabled {
		limit = 8 // the race detector's larger stacks and shadow state
	}
	if per > limit {
		t.Errorf("%.1f KB per idle socket, want at most %.0f", per, limit)
	}
}

// TestFollowedChatCost: what the hub and the broker keep for each chat a
// node follows (its feed, the feed's sockets, the broker subscription and
// both maps' entries), the live part of an idle participant's chat state
// (issue 17's 2 KB). It was 1.1 KB with a map of sockets per feed and a
// set of subscriptions per chat, and the subscription's two channels.
func TestFollowedChatCost(t *testing.T) {
	const n = 20000
	ids := make([]string, n)
	socks := make([]*socket, n)
	for i := range ids {
		ids[i] = secret.NewUUID()
		socks[i] = &socket{grant: chat.SocketGrant{ParticipantID: secret.NewUUID(), ContactID: ids[i]}}
	}
	last := func(_ context.Context, ids []string) (map[string]int64, error) {
		return map[string]int64{ids[0]: 3}, nil
	}
	h := newHub(broker.NewMemory(), nil, last, func(func()) bool { return false }, slog.New(slog.DiscardHandler))
	live := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := live()
	for i := range ids {
		h.join(socks[i], ids[i], ids[i])
	}
	per := float64(live()-before) / n
	runtime.KeepAlive(h)
	t.Logf("%.0f B per followed chat", per)
	if per > 600 {
		t.Errorf("%.0f B per followed chat, want at most 600", per)
	}
	// Leaving undoes it: the chats are no longer followed.
	for i := range ids {
		h.leave(socks[i])
	}
	if len(h.feeds) != 0 || h.broker.(*broker.Memory).Subscribers(ids[0]) != 0 {
		t.Errorf("%d feeds left", len(h.feeds))
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

// TestShutdownIsBoundedAndWaits: Shutdown closes sockets with 1001 and
// waits for every goroutine the gateway started; a client that never
// answers the close handshake is dropped when Shutdown's context ends.
func TestShutdownIsBoundedAndWaits(t *testing.T) {
	g, _, newURL := setup(t)
	ctx := context.Background()
	polite, _, err := websocket.Dial(ctx, func() string { u, _, _ := newURL(); return u }(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer polite.CloseNow()
	// A raw client that upgrades and then never reads: the server's close
	// frame is never answered.
	u, _, _ := newURL()
	deaf, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.CloseNow()
	go func() { // the polite client reads, and so answers the close
		for {
			if _, _, err := polite.Read(ctx); err != nil {
				return
			}
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = g.Shutdown(sctx)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v with a 300 ms context", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with an unanswered close: %v, want the context's error", err)
	}
	done := make(chan struct{})
	go func() { g.open.Wait(); g.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("sockets or goroutines left after Shutdown")
	}
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
}

// TestHubFollowsEachChatOnceAndFillsGaps: three sockets of one chat share
// one subscription and one encoding per item; an item the broker lost
// reaches them all the same, from the store, in seq order.
func TestHubFollowsEachChatOnceAndFillsGaps(t *testing.T) {
	// Set before the gateway starts, and restored after it stopped (the
	// cleanups run in reverse): its goroutines read it.
	var encoded atomic.Int32
	encodeItem = func(it store.Item, initial string) ([]byte, error) {
		if it.Type == "MESSAGE" {
			encoded.Add(1)
		}
		return EncodeItem(it, initial)
	}
	t.Cleanup(func() { encodeItem = EncodeItem })
	g, svc, newURL := setupLosing(t, func(it store.Item) bool { return it.Content == "lost" })
	ctx := context.Background()
	url, ptoken, contactID := newURL()
	urls := []string{url}
	for range 2 {
		conn, err := svc.Connect(ctx, ptoken, true, false, false)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, conn.WebsocketURL)
	}
	var socks []*websocket.Conn
	for _, u := range urls {
		c := subscribedSocket(t, u)
		socks = append(socks, c)
	}
	if n := g.hub.broker.(*broker.Memory).Subscribers(contactID); n != 1 {
		t.Errorf("%d broker subscriptions for one chat's 3 sockets, want 1", n)
	}

	conn, err := svc.Connect(ctx, ptoken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one", "lost", "three"} {
		if _, err := svc.SendMessage(ctx, sess, chat.ContentPlain, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range socks {
		var got []string
		for len(got) < 3 {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, b, err := c.Read(rctx)
			cancel()
			if err != nil {
				t.Fatalf("socket %d after %v: %v", i, got, err)
			}
			var env struct{ Content string }
			var it struct{ Type, Content string }
			if json.Unmarshal(b, &env) != nil || json.Unmarshal([]byte(env.Content), &it) != nil {
				t.Fatalf("frame %s", b)
			}
			if it.Type == "MESSAGE" {
				got = append(got, it.Content)
			}
		}
		if strings.Join(got, ",") != "one,lost,three" {
			t.Errorf("socket %d got %v, want one, lost (from the store), three", i, got)
		}
	}
	if n := encoded.Load(); n != 3 {
		t.Errorf("%d encodings of 3 messages for 3 sockets, want 3 (once per item)", n)
	}
	// The gap filled, the feed holds no map of waiting items: a map keeps
	// its size (8 items' room, 2 KB) once grown, for the chat's life.
	g.hub.mu.Lock()
	f := g.hub.feeds[contactID]
	g.hub.mu.Unlock()
	f.mu.Lock()
	held := f.pending != nil
	f.mu.Unlock()
	if held {
		t.Error("the feed still holds its map of waiting items after the gap was filled")
	}
}

// troubled is a memory broker that says it can lose items, as NATS does:
// the hub then compares its chats with the store periodically.
type troubled struct {
	*broker.Memory
	trouble func()
}

func (b *troubled) OnTrouble(f func()) { b.trouble = f }

// TestHubFindsALostLastItem: the last item of a burst is lost by the
// broker, so no later item shows the gap; the hub's periodic comparison
// with the store finds it and every socket gets it, in order.
func TestHubFindsALostLastItem(t *testing.T) {
	// Restored after the gateway's Shutdown (cleanups run last first), since
	// the hub reads it until then.
	t.Cleanup(func(every time.Duration) func() { return func() { CheckEvery = every } }(CheckEvery))
	CheckEvery = 300 * time.Millisecond
	b := &troubled{Memory: broker.NewMemory()}
	_, svc, newURL := setupOn(t, b, func(it store.Item) bool { return it.Content == "last" })
	ctx := context.Background()
	url, ptoken, _ := newURL()
	c := subscribedSocket(t, url)
	conn, err := svc.Connect(ctx, ptoken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"first", "second", "last"} {
		if _, err := svc.SendMessage(ctx, sess, chat.ContentPlain, text, ""); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for len(got) < 3 {
		_, data, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		var env struct{ Content string }
		var it struct{ Type, Content string }
		if json.Unmarshal(data, &env) != nil || json.Unmarshal([]byte(env.Content), &it) != nil {
			t.Fatalf("frame %s", data)
		}
		if it.Type == "MESSAGE" {
			got = append(got, it.Content)
		}
	}
	if strings.Join(got, ",") != "first,second,last" {
		t.Errorf("got %v", got)
	}
}

// TestOwnLeaveClosesBehindTheRestOfItsItems: the frame of a socket's own
// participant.left does not close it; the close comes after every item
// delivered with the leave, so a chat.ended committed with it is sent
// first (a client that has not seen the end reconnects and is refused).
func TestOwnLeaveClosesBehindTheRestOfItsItems(t *testing.T) {
	h := newHub(broker.NewMemory(), nil, nil, func(func()) bool { return false }, slog.New(slog.DiscardHandler))
	mine := &socket{grant: chat.SocketGrant{ParticipantID: "p1", ContactID: "c"}}
	other := &socket{grant: chat.SocketGrant{ParticipantID: "p2", ContactID: "c"}}
	f := &feed{h: h, contactID: "c", positioned: true, next: 1, sockets: []*socket{mine, other}}
	event := func(seq int64, contentType, participant string) store.Item {
		return store.Item{ID: fmt.Sprint("i", seq), ContactID: "c", Seq: seq, Type: chat.TypeEvent, ContentType: contentType, ParticipantID: participant, Role: "CUSTOMER"}
	}
	closing := func(s *socket) (n int, closes bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, fr := range s.queue {
			closes = closes || fr.closes
		}
		return len(s.queue), closes
	}

	f.mu.Lock()
	f.receive(event(1, chat.EventParticipantLeft, "p1"))
	if _, closes := closing(mine); closes {
		t.Error("the leave's own frame closes the socket before the items committed with it")
	}
	f.receive(event(2, chat.EventChatEnded, ""))
	f.closeLeavers()
	f.mu.Unlock()
	if n, closes := closing(mine); n < 2 || !closes || mine.queue[1].closes != true {
		t.Errorf("the leaving socket's queue: %+v", mine.queue)
	}
	if _, closes := closing(other); !closes {
		t.Error("chat.ended does not close the other socket")
	}

	// A leave alone (the chat goes on) still closes the leaver's socket,
	// and only the leaver's.
	mine2 := &socket{grant: chat.SocketGrant{ParticipantID: "p3", ContactID: "c2"}}
	stays := &socket{grant: chat.SocketGrant{ParticipantID: "p4", ContactID: "c2"}}
	f2 := &feed{h: h, contactID: "c2", positioned: true, next: 1, sockets: []*socket{mine2, stays}}
	f2.mu.Lock()
	f2.receive(event(1, chat.EventParticipantLeft, "p3"))
	f2.closeLeavers()
	f2.mu.Unlock()
	if _, closes := closing(mine2); !closes {
		t.Error("a participant who left keeps their socket")
	}
	if _, closes := closing(stays); closes {
		t.Error("another participant's leave closes this socket")
	}
}

// TestHubClosesTheSocketsOfAnErasedChat: a chat ended and erased at once
// (DeleteContact, retention) while the broker lost its chat.ended, as a
// bus may: the periodic comparison finds no such chat in the store any
// more, and its sockets close rather than wait for an end that nothing can
// deliver now.
func TestHubClosesTheSocketsOfAnErasedChat(t *testing.T) {
	t.Cleanup(func(every time.Duration) func() { return func() { CheckEvery = every } }(CheckEvery))
	CheckEvery = 300 * time.Millisecond
	b := &troubled{Memory: broker.NewMemory()}
	_, svc, newURL := setupOn(t, b, func(it store.Item) bool { return it.ContentType == chat.EventChatEnded })
	ctx := context.Background()
	url, _, contactID := newURL()
	c := subscribedSocket(t, url)
	if _, err := svc.Erase(ctx, contactID, "test"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(rctx); err != nil {
			if rctx.Err() != nil {
				t.Fatal("the socket of an erased chat is still open")
			}
			return
		}
	}
}
