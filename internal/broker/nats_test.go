package broker

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/testfiles"
)

func dialNATS(t *testing.T, url string) *NATS {
	t.Helper()
	n, err := DialNATS(NATSConfig{URL: url, Name: t.Name(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func waitItems(t *testing.T, s *Subscription, n int) []store.Item {
	t.Helper()
	var got []store.Item
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case <-s.Ready:
			got = append(got, s.Take()...)
		case <-deadline:
			t.Fatalf("got %d items of %d", len(got), n)
		}
	}
	return got
}

func waitConnected(t *testing.T, ns ...*NATS) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range ns {
		for !n.Connected() {
			if time.Now().After(deadline) {
				t.Fatal("not connected to NATS")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestNATSCarriesItemsBetweenNodes: an item published on one node reaches
// the other node's subscribers of its chat, and this node's own directly
// (once: NoEcho); a restart of the server is reported as trouble and
// delivery resumes; a lost message is lost (the follower repairs it).
func TestNATSCarriesItemsBetweenNodes(t *testing.T) {
	srv := testfiles.NATS(t)
	a, b := dialNATS(t, srv.URL), dialNATS(t, srv.URL)
	waitConnected(t, a, b)
	troubles := make(chan struct{}, 10)
	b.OnTrouble(func() { troubles <- struct{}{} })
	onA, onB := a.Subscribe("c1", 100), b.Subscribe("c1", 100)
	other := b.Subscribe("c2", 100)
	b.nc.Flush() // the subscription reached the server
	ctx := context.Background()
	if err := a.Publish(ctx, []store.Item{{ContactID: "c1", Seq: 1, ID: "i1"}, {ContactID: "c1", Seq: 2, ID: "i2"}}); err != nil {
		t.Fatal(err)
	}
	if got := waitItems(t, onB, 2); got[0].ID != "i1" || got[1].ID != "i2" {
		t.Errorf("on b: %+v", got)
	}
	if got := waitItems(t, onA, 2); len(got) != 2 {
		t.Errorf("on a: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if onA.Pending() != 0 || other.Pending() != 0 {
		t.Errorf("echoed or misrouted: %d, %d", onA.Pending(), other.Pending())
	}

	srv.Restart(100 * time.Millisecond)
	select {
	case <-troubles:
	case <-time.After(5 * time.Second):
		t.Fatal("no trouble reported after the server restarted")
	}
	waitConnected(t, a, b)
	// b's client replays its subscriptions on reconnecting, before anything
	// else it sends: a round trip after them means the server has them.
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, []store.Item{{ContactID: "c1", Seq: 3, ID: "i3"}}); err != nil {
		t.Fatal(err)
	}
	if got := waitItems(t, onB, 1); got[0].ID != "i3" {
		t.Errorf("after the restart: %+v", got)
	}

	// The last subscriber's Close ends the node's NATS subscription.
	onB.Close()
	b.mu.Lock()
	_, following := b.follow["c1"]
	b.mu.Unlock()
	if following {
		t.Error("still subscribed to c1 after its last subscriber left")
	}
}

// TestNATSLossyProxyDrops: the fault-injection proxy drops exactly every
// k-th message, which the tests of the cluster rely on.
func TestNATSLossyProxyDrops(t *testing.T) {
	srv := testfiles.NATS(t)
	proxy := testfiles.NATSLossy(t, srv.URL, 3)
	a, b := dialNATS(t, srv.URL), dialNATS(t, proxy.URL)
	waitConnected(t, a, b)
	sub := b.Subscribe("c", 100)
	b.nc.Flush()
	for i := range 9 {
		a.Publish(context.Background(), []store.Item{{ContactID: "c", Seq: int64(i + 1)}})
	}
	got := waitItems(t, sub, 6)
	time.Sleep(100 * time.Millisecond)
	if len(got)+sub.Pending() != 6 || proxy.Dropped.Load() != 3 {
		t.Errorf("got %d, dropped %d", len(got)+sub.Pending(), proxy.Dropped.Load())
	}
}

// TestNATSBinary runs the broker against Debian's nats-server.
func TestNATSBinary(t *testing.T) {
	url := testfiles.NATSProcess(t)
	a, b := dialNATS(t, url), dialNATS(t, url)
	waitConnected(t, a, b)
	sub := b.Subscribe("c", 10)
	b.nc.Flush()
	a.Publish(context.Background(), []store.Item{{ContactID: "c", Seq: 1, Content: "hello"}})
	if got := waitItems(t, sub, 1); got[0].Content != "hello" {
		t.Errorf("%+v", got)
	}
}

// TestNATSDownPublishFailsFast: with no server, Publish still returns at
// once (sends never wait for the bus) and local subscribers still get
// their items.
func TestNATSDownPublishFailsFast(t *testing.T) {
	srv := testfiles.NATS(t)
	url := srv.URL
	srv.Stop()
	a := dialNATS(t, url)
	sub := a.Subscribe("c", 10)
	start := time.Now()
	err := a.Publish(context.Background(), []store.Item{{ContactID: "c", Seq: 1}})
	if time.Since(start) > time.Second {
		t.Errorf("Publish took %s with NATS down", time.Since(start))
	}
	if err == nil {
		t.Error("no error with NATS down")
	}
	if got := waitItems(t, sub, 1); got[0].Seq != 1 {
		t.Errorf("%+v", got)
	}
}
