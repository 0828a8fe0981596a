package gateway

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/store"
)

// TestRepairPastAPrunedGap: the items a feed lacks were pruned (ephemeral
// items an hour old, after the node could not read the store that long)
// while later ones were committed meanwhile: the store answers the
// missing range with those later items only. The repair gives up the
// pruned range instead of reading it again and again.
func TestRepairPastAPrunedGap(t *testing.T) {
	var reads int
	items := func(_ context.Context, contactID string, from int64, limit int) ([]store.Item, error) {
		reads++
		return []store.Item{{ID: "later", ContactID: contactID, Seq: 13, Type: "MESSAGE", ContentType: "text/plain", Content: "x"}}, nil
	}
	last := func(context.Context, []string) (map[string]int64, error) { return nil, nil }
	h := newHub(broker.NewMemory(), items, last, func(func()) bool { return false }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := &feed{h: h, contactID: "c", positioned: true, next: 10, want: 12}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.repair()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the repair of a pruned range is still reading the store")
	}
	if f.next != 13 || reads != 1 {
		t.Errorf("after the repair: next %d after %d reads; want 13 after 1", f.next, reads)
	}
}
