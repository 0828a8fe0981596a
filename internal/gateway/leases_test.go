package gateway

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// memLeases is a cluster's lease table in memory. Renewals block while
// hold is set, to let a test act while one is in flight.
type memLeases struct {
	mu      sync.Mutex
	rows    map[string]string // socket id → participant id
	hold    chan struct{}
	renewed chan struct{} // a renewal has begun
}

func (m *memLeases) AcquireSocket(_ context.Context, id, participantID, _ string, max int, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.rows {
		if p == participantID {
			n++
		}
	}
	if n >= max {
		return false, nil
	}
	m.rows[id] = participantID
	return true, nil
}

func (m *memLeases) RenewSockets(_ context.Context, leases map[string]string, _ string, _ time.Duration) error {
	if m.hold != nil {
		m.renewed <- struct{}{}
		<-m.hold
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.Copy(m.rows, leases)
	return nil
}

func (m *memLeases) ReleaseSockets(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.rows, id)
	}
	return nil
}

func (m *memLeases) HasSocket(_ context.Context, participantID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.rows {
		if p == participantID {
			return true, nil
		}
	}
	return false, nil
}

func (m *memLeases) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

// TestLeasesComeBackButNotAfterRelease: a node cut off from the database
// longer than a lease lives finds its sockets' leases cleared by the other
// nodes; its next renewal makes them again. A socket that closes while a
// renewal is in flight must not get its lease back from that renewal,
// where it would hold one of the participant's five places for leaseTTL.
func TestLeasesComeBackButNotAfterRelease(t *testing.T) {
	g, _, newURL := setup(t)
	l := &memLeases{rows: map[string]string{}}
	g.leases, g.node = l, "n1" // no renewal loop: the test renews
	url, _, _ := newURL()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.Stats().Sockets == 1 })
	if l.count() != 1 {
		t.Fatalf("leases with a socket open: %d, want 1", l.count())
	}

	// The others cleared this node's lease; the renewal makes it again.
	l.ReleaseSockets(ctx, []string{func() string {
		for id := range l.rows {
			return id
		}
		return ""
	}()})
	g.renewOnce()
	if l.count() != 1 {
		t.Fatalf("leases after a renewal: %v, want the socket's one back", l.rows)
	}

	// The socket closes while a renewal that read it is in flight.
	l.hold, l.renewed = make(chan struct{}), make(chan struct{})
	renewing := make(chan struct{})
	go func() { g.renewOnce(); close(renewing) }()
	<-l.renewed
	c.Close(websocket.StatusNormalClosure, "")
	time.Sleep(50 * time.Millisecond) // let the close reach its release
	close(l.hold)
	<-renewing
	waitFor(t, func() bool { return g.Stats().Sockets == 0 })
	if n := l.count(); n != 0 {
		t.Errorf("leases after the socket closed during a renewal: %d, want 0", n)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestDrainRefusesNewSockets: once a node drains, a reconnecting client
// that the balancer sends back to it is refused with 503 (ChatJS tries the
// URL again a second later, and lands on another node) instead of being
// admitted and closed again at the drain's end.
func TestDrainRefusesNewSockets(t *testing.T) {
	g, _, newURL := setup(t)
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, func() string { u, _, _ := newURL(); return u }(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	waitFor(t, func() bool { return g.Stats().Sockets == 1 })
	late, _, _ := newURL()
	done := make(chan struct{})
	go func() { g.Drain(time.Second); close(done) }()
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.draining })
	if got := dialStatus(late); got != http.StatusServiceUnavailable {
		t.Errorf("a socket opened while the node drains: %d, want 503", got)
	}
	_, _, err = c.Read(ctx)
	if st := websocket.CloseStatus(err); st != websocket.StatusServiceRestart {
		t.Errorf("the open socket closed with %v (%v), want 1012", st, err)
	}
	<-done
}

// TestPingReportsTheBackend: aws/ping is ChatJS's deep heartbeat, which
// asks whether the service behind the socket works; while the health
// probe fails (the database is down) it answers 503, which ChatJS hands to
// the app's onDeepHeartbeatFailure, and 200 again once the probe passes.
func TestPingReportsTheBackend(t *testing.T) {
	g, _, newURL := setup(t)
	var down atomic.Bool
	probed := make(chan struct{}, 100)
	g.UseHealth(func(context.Context) bool {
		defer func() { probed <- struct{}{} }()
		return !down.Load()
	}, 10*time.Millisecond)
	url, _, _ := newURL()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ping := func() string {
		// Two probes from now: the second began after the change.
		for len(probed) > 0 {
			<-probed
		}
		<-probed
		<-probed
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/ping"}`)); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, got, err := c.Read(rctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	if got := ping(); got != string(pong) {
		t.Errorf("ping while healthy: %s", got)
	}
	down.Store(true)
	if got, want := ping(), `{"topic":"aws/ping","statusCode":503,"statusContent":"Service Unavailable"}`; got != want {
		t.Errorf("ping while the database is down: %s, want %s", got, want)
	}
	down.Store(false)
	if got := ping(); got != string(pong) {
		t.Errorf("ping after it came back: %s", got)
	}
}
