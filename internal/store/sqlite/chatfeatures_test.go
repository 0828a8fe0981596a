package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TestPersistAndAnnounce: a contact continues a source once, and a source
// is continued once, also by a new contact; chat.rehydrated is announced
// once.
func TestPersistAndAnnounce(t *testing.T) {
	ctx := context.Background()
	db := open(t, nil)
	for _, id := range []string{"src", "a", "b"} {
		newContact(t, db, id)
	}
	persist := func(contact, source string) error {
		_, err := db.Apply(ctx, &store.Change{Persist: &store.Persist{ContactID: contact, SourceID: source, RehydrationType: "FROM_SEGMENT"}})
		return err
	}
	if err := persist("a", "src"); err != nil {
		t.Fatal(err)
	}
	if k, _ := db.Contact(ctx, "a"); k.ContinuedFromID != "src" || k.RelatedContactID != "src" || k.RehydrationType != "FROM_SEGMENT" {
		t.Errorf("persisted contact %+v", k)
	}
	if err := persist("b", "src"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a source continued twice: %v, want ErrConflict", err)
	}
	if err := persist("a", "b"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a contact continuing twice: %v, want ErrConflict", err)
	}
	if err := persist("nope", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown contact: %v, want ErrNotFound", err)
	}
	now := time.Now()
	_, err := db.Apply(ctx, &store.Change{NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c", State: store.ContactQueued,
		ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour), ContinuedFromID: "src", RelatedContactID: "src"}})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("a new contact continuing a used source: %v, want ErrConflict", err)
	}
	announce := func() error {
		_, err := db.Apply(ctx, &store.Change{AnnounceRehydration: "a"})
		return err
	}
	if err := announce(); err != nil {
		t.Fatal(err)
	}
	if err := announce(); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second announcement: %v, want ErrConflict", err)
	}
	if k, _ := db.Contact(ctx, "a"); !k.RehydrationAnnounced {
		t.Error("the announcement is not kept")
	}
}

// TestRequeueAndTransferTo: a connected contact goes back to the queue,
// for one console agent only.
func TestRequeueAndTransferTo(t *testing.T) {
	ctx := context.Background()
	db := open(t, nil)
	newContact(t, db, "c")
	connect := func(console string) error {
		_, err := db.Apply(ctx, &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: "c", AgentID: "p-" + console, At: time.Now(),
			Exclusive: true, Console: console}})
		return err
	}
	requeue := func(to string) error {
		_, err := db.Apply(ctx, &store.Change{Requeue: &store.Requeue{ContactID: "c", TransferTo: to}})
		return err
	}
	if err := requeue(""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("requeueing a queued contact: %v, want ErrConflict", err)
	}
	if err := connect("grace"); err != nil {
		t.Fatal(err)
	}
	if err := requeue("alan"); err != nil {
		t.Fatal(err)
	}
	if k, _ := db.Contact(ctx, "c"); k.State != store.ContactQueued || k.TransferTo != "alan" || k.AgentID != "" || !k.ConnectedAt.IsZero() {
		t.Errorf("requeued contact %+v", k)
	}
	if err := connect("bob"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another agent accepting a transfer to alan: %v, want ErrConflict", err)
	}
	if err := connect("alan"); err != nil {
		t.Fatal(err)
	}
	if k, _ := db.Contact(ctx, "c"); k.State != store.ContactConnected || k.TransferTo != "" {
		t.Errorf("accepted contact %+v", k)
	}
}

// TestSupervisorParticipants: capabilities and barging are kept, a barge
// happens once, a token can be replaced, and monitoring takes none of an
// agent's chats.
func TestSupervisorParticipants(t *testing.T) {
	ctx := context.Background()
	db := open(t, nil)
	newContact(t, db, "c")
	sup := store.Participant{ID: "sup", ContactID: "c", Role: "SUPERVISOR", TokenHash: "h1", State: store.ParticipantJoined,
		JoinedAt: time.Now(), AgentID: "sam", MonitorCapabilities: []string{"SILENT_MONITOR", "BARGE"}}
	_, err := db.Apply(ctx, &store.Change{NewParticipants: []store.Participant{sup},
		Limits: []store.Limit{{Count: store.CountAgentChats, Key: "sam", Max: 0}}})
	if err != nil {
		t.Fatalf("a supervisor counted as one of the agent's chats: %v", err)
	}
	p, _ := db.Participant(ctx, "sup")
	if len(p.MonitorCapabilities) != 2 || p.MonitorCapabilities[1] != "BARGE" || p.Barged {
		t.Errorf("supervisor %+v", p)
	}
	if _, err := db.Apply(ctx, &store.Change{Barge: "sup"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Apply(ctx, &store.Change{Barge: "sup"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second barge: %v, want ErrConflict", err)
	}
	if _, err := db.Apply(ctx, &store.Change{ParticipantToken: &store.ParticipantToken{ParticipantID: "sup", TokenHash: "h2"}}); err != nil {
		t.Fatal(err)
	}
	if p, err := db.ParticipantByToken(ctx, "h2"); err != nil || !p.Barged {
		t.Errorf("by the new token: %+v, %v", p, err)
	}
	if _, err := db.ParticipantByToken(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old token still works: %v", err)
	}
}

// TestStreamOutbox: items are queued for a contact's active streams in the
// transaction that commits them, in order, kept across a reopen until
// done; a stopped stream queues nothing more; erasure removes both.
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
