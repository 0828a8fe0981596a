package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// testPersistAndAnnounce: a contact continues a source once, a source is
// continued once (also by a new contact), chat.rehydrated is announced once.
func testPersistAndAnnounce(t *testing.T, b Backend) {
	s := newStore(t, b)
	for _, id := range []string{"src", "a", "b"} {
		newChat(t, s, id)
	}
	persist := func(contactID, source string) *store.Change {
		return &store.Change{Persist: &store.Persist{ContactID: contactID, SourceID: source, RehydrationType: "FROM_SEGMENT", At: t0.Add(time.Hour)}}
	}
	apply(t, s, persist("a", "src"))
	k, err := s.Contact(ctx, "a")
	if err != nil || k.ContinuedFromID != "src" || k.RelatedContactID != "src" || k.RehydrationType != "FROM_SEGMENT" {
		t.Errorf("persisted contact %+v, %v", k, err)
	}
	if !k.LastUpdate().Equal(t0.Add(time.Hour)) {
		t.Errorf("LastUpdate after the association: %v, want its time %v", k.LastUpdate(), t0.Add(time.Hour))
	}
	wantErr(t, s, persist("b", "src"), store.ErrConflict)
	wantErr(t, s, persist("a", "b"), store.ErrConflict)
	wantErr(t, s, persist("nope", "b"), store.ErrNotFound)
	c := contact("c")
	c.ContinuedFromID, c.RelatedContactID = "src", "src"
	wantErr(t, s, &store.Change{NewContact: c}, store.ErrConflict)
	if _, err := s.Contact(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused contact was written: %v", err)
	}
	apply(t, s, &store.Change{AnnounceRehydration: "a"})
	wantErr(t, s, &store.Change{AnnounceRehydration: "a"}, store.ErrConflict)
	if k, _ := s.Contact(ctx, "a"); !k.RehydrationAnnounced {
		t.Error("the announcement is not kept")
	}
}

// testRequeue: a connected contact goes back to the queue, for one console
// agent only, whom accepting clears.
func testRequeue(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	connect := func(console string) *store.Change {
		return &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: "c", AgentID: "p-" + console, At: t0, Exclusive: true, Console: console}}
	}
	requeue := func(to string) *store.Change {
		return &store.Change{Requeue: &store.Requeue{ContactID: "c", TransferTo: to, At: t0.Add(time.Minute)}}
	}
	wantErr(t, s, requeue(""), store.ErrConflict)
	if k, _ := s.Contact(ctx, "c"); !k.RequeuedAt.IsZero() || !k.EnqueuedAt().Equal(t0) {
		t.Errorf("before any transfer: RequeuedAt %v, EnqueuedAt %v; want zero and the start", k.RequeuedAt, k.EnqueuedAt())
	}
	apply(t, s, connect("grace"))
	apply(t, s, requeue("alan"))
	k, _ := s.Contact(ctx, "c")
	if !k.RequeuedAt.Equal(t0.Add(time.Minute)) || !k.EnqueuedAt().Equal(k.RequeuedAt) {
		t.Errorf("after a transfer: RequeuedAt %v, EnqueuedAt %v; want the transfer's time", k.RequeuedAt, k.EnqueuedAt())
	}
	if k.State != store.ContactQueued || k.TransferTo != "alan" || k.AgentID != "" || !k.ConnectedAt.IsZero() {
		t.Errorf("requeued contact %+v", k)
	}
	// Clearing ConnectedAt does not take LastUpdate back before the transfer.
	if !k.LastUpdate().Equal(t0.Add(time.Minute)) {
		t.Errorf("LastUpdate after the transfer: %v, want its time %v", k.LastUpdate(), t0.Add(time.Minute))
	}
	wantErr(t, s, connect("bob"), store.ErrConflict)
	apply(t, s, connect("alan"))
	if k, _ := s.Contact(ctx, "c"); k.State != store.ContactConnected || k.TransferTo != "" {
		t.Errorf("accepted contact %+v", k)
	}
}

// testSupervisors: capabilities and barging are kept, a barge happens
// once, a token can be replaced, monitoring takes none of an agent's chats.
func testSupervisors(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	apply(t, s, &store.Change{NewAgent: &store.Agent{ID: "sam", Name: "Sam", KeyHash: "k", CreatedAt: t0}})
	sup := participant("sup", "c", "SUPERVISOR")
	sup.AgentID, sup.MonitorCapabilities = "sam", []string{"SILENT_MONITOR", "BARGE"}
	apply(t, s, &store.Change{NewParticipants: []store.Participant{sup}, Limits: []store.Limit{{Count: store.CountAgentChats, Key: "sam", Max: 0}}})
	p, err := s.Participant(ctx, "sup")
	if err != nil || len(p.MonitorCapabilities) != 2 || p.MonitorCapabilities[1] != "BARGE" || p.Barged {
		t.Errorf("supervisor %+v, %v", p, err)
	}
	apply(t, s, &store.Change{Barge: "sup"})
	wantErr(t, s, &store.Change{Barge: "sup"}, store.ErrConflict)
	apply(t, s, &store.Change{ParticipantToken: &store.ParticipantToken{ParticipantID: "sup", TokenHash: "new"}})
	if p, err := s.ParticipantByToken(ctx, "new"); err != nil || !p.Barged {
		t.Errorf("by the new token: %+v, %v", p, err)
	}
	if _, err := s.ParticipantByToken(ctx, "th-sup"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old token still works: %v", err)
	}
	if p, _, err := s.Session(ctx, "sup"); err != nil || !p.Barged || len(p.MonitorCapabilities) != 2 {
		t.Errorf("Session: %+v, %v", p, err)
	}
}

// testStreamOutbox: items are queued for a contact's active streams in the
// transaction that commits them, in order; a stopped stream queues nothing
// more; erasure removes both.
func testStreamOutbox(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	newChat(t, s, "other")
	apply(t, s, &store.Change{Items: []store.Item{message("c", "before", "")}})
	apply(t, s, &store.Change{StartStream: &store.Stream{ID: "s1", ContactID: "c", EndpointARN: "arn:aws:sns:r:a:t", StartedAt: t0}})
	apply(t, s, &store.Change{Items: []store.Item{message("c", "one", ""), message("other", "elsewhere", ""), message("c", "two", "")}})
	apply(t, s, &store.Change{Items: []store.Item{event("c", "typing")}})
	ds, err := s.Deliveries(ctx, 10)
	if err != nil || len(ds) != 3 || ds[0].Item.ID != "one" || ds[1].Item.ID != "two" || ds[2].Item.ID != "typing" ||
		ds[0].EndpointARN != "arn:aws:sns:r:a:t" || ds[0].StreamID != "s1" || ds[0].ContactID != "c" || ds[0].Item.Seq == 0 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if ds[2].Item.Content != "" && ds[2].Item.InTranscript {
		t.Errorf("the typing event changed: %+v", ds[2].Item)
	}
	next := time.Now().Add(time.Minute)
	apply(t, s, &store.Change{DeliveriesDone: []int64{ds[0].ID}, DeliveryRetries: []store.DeliveryRetry{{ID: ds[1].ID, Attempts: 1, NextAt: next}}})
	ds, _ = s.Deliveries(ctx, 10)
	if len(ds) != 2 || ds[0].Item.ID != "two" || ds[0].Attempts != 1 || !ds[0].NextAt.Equal(ms(next)) {
		t.Fatalf("after one done and one retried: %+v", ds)
	}
	apply(t, s, &store.Change{StopStream: &store.StopStream{ContactID: "c", StreamID: "s1", At: t0}})
	apply(t, s, &store.Change{StopStream: &store.StopStream{ContactID: "c", StreamID: "s1", At: t0}}) // stopped already: fine
	apply(t, s, &store.Change{Items: []store.Item{message("c", "after stop", "")}})
	if ds, _ = s.Deliveries(ctx, 10); len(ds) != 2 {
		t.Errorf("a stopped stream queued more: %+v", ds)
	}
	wantErr(t, s, &store.Change{StopStream: &store.StopStream{ContactID: "c", StreamID: "nope", At: t0}}, store.ErrNotFound)
	if st, err := s.Streams(ctx, "c"); err != nil || len(st) != 1 || st[0].StoppedAt.IsZero() || st[0].EndpointARN != "arn:aws:sns:r:a:t" {
		t.Errorf("streams %+v, %v", st, err)
	}
	apply(t, s, &store.Change{Erase: &store.Tombstone{ContactID: "c", At: t0, Reason: "test"}})
	if ds, _ = s.Deliveries(ctx, 10); len(ds) != 0 {
		t.Errorf("erasure left deliveries: %+v", ds)
	}
	if st, _ := s.Streams(ctx, "c"); len(st) != 0 {
		t.Errorf("erasure left streams: %+v", st)
	}
}

// testCustomerAndSegments: a contact's CustomerID and SegmentAttributes,
// nested and with zero values that are set, read back as written by every
// read of a contact; a contact without them reads back without them.
func testCustomerAndSegments(t *testing.T, b Backend) {
	s := newStore(t, b)
	str := func(v string) *string { return &v }
	zero := int32(0)
	segments := map[string]store.SegmentAttributeValue{
		"connect:Subtype": {ValueString: str("connect:Guide")},
		"empty":           {ValueString: str("")},
		"nested": {ValueMap: map[string]store.SegmentAttributeValue{
			"ExpiryDuration": {ValueInteger: &zero},
			"deeper":         {ValueList: []store.SegmentAttributeValue{{ValueArn: str("arn:aws:connect:x")}, {}}},
		}},
	}
	k := contact("c")
	k.CustomerID, k.SegmentAttributes = "cust-42", segments
	apply(t, s, &store.Change{NewContact: k, NewParticipants: []store.Participant{participant("p-c", "c", "CUSTOMER")}})
	newChat(t, s, "plain")

	check := func(how string, got store.Contact) {
		t.Helper()
		switch got.ID {
		case "c":
			if got.CustomerID != "cust-42" || !reflect.DeepEqual(got.SegmentAttributes, segments) {
				t.Errorf("%s: CustomerID %q, SegmentAttributes %s", how, got.CustomerID, jsonOf(got.SegmentAttributes))
			}
		case "plain":
			if got.CustomerID != "" || got.SegmentAttributes != nil {
				t.Errorf("%s: a contact without them has CustomerID %q, SegmentAttributes %s", how, got.CustomerID, jsonOf(got.SegmentAttributes))
			}
		}
	}
	for _, id := range []string{"c", "plain"} {
		got, err := s.Contact(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("Contact", got)
		_, got, err = s.Session(ctx, "p-"+id)
		if err != nil {
			t.Fatal(err)
		}
		check("Session", got)
	}
	for got, err := range s.ActiveContacts(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		check("ActiveContacts", got)
	}
	queued, err := s.QueuedContacts(ctx, store.QueueQuery{Limit: 10})
	if err != nil || len(queued) != 2 {
		t.Fatalf("QueuedContacts: %d, %v", len(queued), err)
	}
	for _, got := range queued {
		check("QueuedContacts", got)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
