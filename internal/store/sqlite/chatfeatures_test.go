package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TestStreamOutbox: the outbox outlives a reopen (the conformance suite,
// storetest, has the rest of the contract).
func TestStreamOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	newContact(t, db, "c")
	newContact(t, db, "other")
	apply := func(ch *store.Change) {
		t.Helper()
		if _, err := db.Apply(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	apply(&store.Change{Items: []store.Item{item("c", "before")}})
	apply(&store.Change{StartStream: &store.Stream{ID: "s1", ContactID: "c", EndpointARN: "arn:aws:sns:r:a:t", StartedAt: time.Now()}})
	apply(&store.Change{Items: []store.Item{item("c", "one"), item("other", "elsewhere"), item("c", "two")}})
	ds, err := db.Deliveries(ctx, 10)
	if err != nil || len(ds) != 2 || ds[0].Item.Content != "one" || ds[1].Item.Content != "two" || ds[0].EndpointARN != "arn:aws:sns:r:a:t" {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	apply(&store.Change{DeliveriesDone: []int64{ds[0].ID}, DeliveryRetries: []store.DeliveryRetry{{ID: ds[1].ID, Attempts: 1, NextAt: time.Now().Add(time.Minute)}}})
	db.Close()
	if db, err = Open(path, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	apply(&store.Change{Items: []store.Item{item("c", "three")}}) // the reopened store still knows the stream
	ds, _ = db.Deliveries(ctx, 10)
	if len(ds) != 2 || ds[0].Item.Content != "two" || ds[0].Attempts != 1 || ds[1].Item.Content != "three" {
		t.Fatalf("after a reopen: %+v", ds)
	}
	apply(&store.Change{StopStream: &store.StopStream{ContactID: "c", StreamID: "s1", At: time.Now()}})
	apply(&store.Change{Items: []store.Item{item("c", "after stop")}})
	if ds, _ = db.Deliveries(ctx, 10); len(ds) != 2 {
		t.Errorf("a stopped stream queued more: %+v", ds)
	}
	if _, err := db.Apply(ctx, &store.Change{StopStream: &store.StopStream{ContactID: "c", StreamID: "nope", At: time.Now()}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stopping an unknown stream: %v, want ErrNotFound", err)
	}
	if st, _ := db.Streams(ctx, "c"); len(st) != 1 || st[0].StoppedAt.IsZero() {
		t.Errorf("streams %+v", st)
	}
	apply(&store.Change{Erase: &store.Tombstone{ContactID: "c", At: time.Now(), Reason: "test"}})
	if ds, _ = db.Deliveries(ctx, 10); len(ds) != 0 {
		t.Errorf("erasure left deliveries: %+v", ds)
	}
}
