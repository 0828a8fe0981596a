package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/pgtest"
)

// TestBatchGathersWhileItWaits checks that the requests arriving while a
// batch waits (here on a chat's row lock that another transaction holds)
// gather into one next batch, rather than each idle writer taking a batch
// of its own: one batch collects at a time.
func TestBatchGathersWhileItWaits(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if _, err := db.Apply(ctx, &store.Change{NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c",
		State: store.ContactQueued, Attributes: map[string]string{}, ContentTypes: []string{"text/plain"},
		CreatedAt: now, Deadline: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	var batches, items atomic.Int64
	db.Observe(func(changes, n int, _, _ time.Duration) {
		batches.Add(1)
		items.Add(int64(n))
	})
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contacts WHERE id = 'c' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("m", i)
			_, errs[i] = db.Apply(ctx, &store.Change{RequireActive: "c", Items: []store.Item{{ID: id, ContactID: "c",
				ParticipantID: "p", ClientToken: id, Type: "MESSAGE", ContentType: "text/plain", Content: id,
				Role: "CUSTOMER", InTranscript: true}}})
		}()
	}
	// Every request is queued or taken while the lock is held.
	for deadline := time.Now().Add(5 * time.Second); len(db.reqs) < n-writers && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if items.Load() != n {
		t.Fatalf("%d items committed, want %d", items.Load(), n)
	}
	// The first batch took what was queued when it started (usually one
	// request); the rest waited for it together.
	if b := batches.Load(); b > 3 {
		t.Errorf("%d items committed in %d batches, want at most 3", n, b)
	}
}
