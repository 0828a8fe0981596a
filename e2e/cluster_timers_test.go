package e2e

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/store/postgres"
)

// captured is a timer a test fires by hand.
type captured struct{}

func (captured) Stop() bool { return true }

// timerNode is a chat.Service on a shared database whose timers the test
// holds.
type timerNode struct {
	svc    *chat.Service
	mu     sync.Mutex
	timers []func()
}

func newTimerNode(t *testing.T, url string) *timerNode {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &timerNode{}
	n.svc = chat.New(chat.Config{InstanceID: "i", QueueID: "q",
		WebsocketURL: func(tok string) string { return "ws://127.0.0.1:1/ws?token=" + tok },
		AfterFunc: func(d time.Duration, f func()) chat.Stopper {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.timers = append(n.timers, f)
			return captured{}
		}}, db, secret.Key{7}, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { n.svc.Close(); db.Close() })
	return n
}

func (n *timerNode) fire() int {
	n.mu.Lock()
	timers := n.timers
	n.timers = nil
	n.mu.Unlock()
	for _, f := range timers {
		f()
	}
	return len(timers)
}

// TestClusterChatExpiryToday records how a chat's duration ends with two
// nodes on one database before deadlines are data (issue 12's sweeper):
// the node that started the chat schedules its end, as does every node
// that starts while it lives; when both fire, the end is a conditional
// change and chat.ended is stored once. A node that started before the
// chat holds no timer for it: were the chat's own node to die, its
// chat.ended would wait for a node to restart (requests still see the chat
// ended at its deadline).
func TestClusterChatExpiryToday(t *testing.T) {
	url := pgtest.NewDatabase(t)
	early := newTimerNode(t, url)
	if err := early.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	origin := newTimerNode(t, url)
	out, err := origin.svc.StartChat(context.Background(), chat.StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", DurationMins: 60})
	if err != nil {
		t.Fatal(err)
	}
	late := newTimerNode(t, url)
	if err := late.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	early.mu.Lock()
	earlyTimers := len(early.timers)
	early.mu.Unlock()
	if earlyTimers != 0 {
		t.Errorf("the node that started before the chat holds %d timers", earlyTimers)
	}
	// Both holders fire at the deadline, concurrently.
	var wg sync.WaitGroup
	for _, n := range []*timerNode{origin, late} {
		wg.Add(1)
		go func() { defer wg.Done(); n.fire() }()
	}
	wg.Wait()
	items, err := origin.svc.ItemsFrom(context.Background(), out.ContactID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	ended := 0
	for _, it := range items {
		if it.ContentType == chat.EventChatEnded {
			ended++
		}
	}
	if ended != 1 {
		t.Errorf("%d chat.ended items after both nodes' timers fired", ended)
	}
}
