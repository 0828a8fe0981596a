package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// stuckBroker blocks every Publish until released, and records what it got.
type stuckBroker struct {
	Memory
	release chan struct{}
	mu      sync.Mutex
	got     []store.Item
}

func (b *stuckBroker) Publish(ctx context.Context, items []store.Item) error {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, items...)
	return nil
}

// TestSlowPublishDoesNotStallCommits: while the broker does not answer,
// changes still commit; once it answers, every committed item reaches it,
// in each chat's seq order.
func TestSlowPublishDoesNotStallCommits(t *testing.T) {
	b := &stuckBroker{release: make(chan struct{})}
	p := NewPublisher(b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"), p.Committed)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	for _, c := range []string{"a", "b"} {
		if _, err := st.Apply(ctx, &store.Change{NewContact: &store.Contact{ID: c, State: store.ContactQueued,
			Attributes: map[string]string{}, ContentTypes: []string{}, CreatedAt: now, Deadline: now.Add(time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	const n = 40
	done := make(chan error, 1)
	go func() {
		for i := range n {
			c := []string{"a", "b"}[i%2]
			if _, err := st.Apply(ctx, &store.Change{Items: []store.Item{{ID: fmt.Sprint(i), ContactID: c, Type: "MESSAGE"}}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("commits waited for the broker")
	}
	close(b.release)
	st.Close()
	p.Close()
	next := map[string]int64{"a": 1, "b": 1}
	for _, it := range b.got {
		if it.Seq != next[it.ContactID] {
			t.Fatalf("chat %s: seq %d published, want %d", it.ContactID, it.Seq, next[it.ContactID])
		}
		next[it.ContactID]++
	}
	if len(b.got) != n {
		t.Errorf("%d items published, want %d", len(b.got), n)
	}
}

// TestInProcessPublishIsDirect: with the in-process broker, a commit's
// items are queued for their subscribers before the hook returns, in
// order, with no hand-off to the publisher's goroutine.
func TestInProcessPublishIsDirect(t *testing.T) {
	m := NewMemory()
	p := NewPublisher(m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer p.Close()
	sub := m.Subscribe("a", 10)
	defer sub.Close()
	for round := range 3 {
		p.Committed([]store.Item{{ContactID: "a", Seq: int64(2*round + 1)}, {ContactID: "b", Seq: 1}, {ContactID: "a", Seq: int64(2*round + 2)}})
		if n := sub.Pending(); n != 2 {
			t.Fatalf("round %d: %d items queued when Committed returned, want 2", round, n)
		}
		for i, it := range sub.Take() {
			if want := int64(2*round + 1 + i); it.Seq != want {
				t.Fatalf("round %d: seq %d, want %d", round, it.Seq, want)
			}
		}
	}
}
