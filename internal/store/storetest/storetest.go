// Package storetest is the conformance suite every storage backend passes
// (in the manner of Dendrite's WithAllDatabases): the same tests run against
// SQLite and PostgreSQL, so that the chat domain can rely on one contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// Backend is a storage backend under test.
type Backend struct {
	Name string
	// NewDatabase makes a fresh, empty database for t and returns what
	// opens a Store on it. Stores it opens are closed by the suite.
	NewDatabase func(t testing.TB) Opener
	// Shared: several Store instances (processes) may write one database
	// at once.
	Shared bool
}

// Opener opens a Store on one database; hook may be nil.
type Opener func(hook store.CommitHook) (store.Store, error)

// Run runs the suite against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		f    func(t *testing.T, b Backend)
	}{
		{"ChangeFields", testChangeFields},
		{"Errors", testErrors},
		{"FailingChangeFailsAlone", testFailingChangeFailsAlone},
		{"SeqPerChat", testSeqPerChat},
		{"TranscriptPaging", testTranscriptPaging},
		{"Idempotency", testIdempotency},
		{"Files", testFiles},
		{"UploadReceivers", testUploadReceivers},
		{"Agents", testAgents},
		{"ConcurrentStores", testConcurrentStores},
		{"Limits", testLimits},
		{"Queue", testQueue},
		{"AgentAdmin", testAgentAdmin},
		{"Prune", testPrune},
		{"AttributesAndRoleCheck", testAttributesAndRoleCheck},
		{"Erase", testErase},
		{"Deadlines", testDeadlines},
		{"FileChecks", testFileChecks},
		{"PersistAndAnnounce", testPersistAndAnnounce},
		{"Requeue", testRequeue},
		{"Supervisors", testSupervisors},
		{"StreamOutbox", testStreamOutbox},
		{"Console", testConsole},
		{"Expect", testExpect},
		{"CustomerAndSegments", testCustomerAndSegments},
		{"PendingTimers", testPendingTimers},
		{"PendingTimersRace", testPendingTimersRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, b) })
	}
}

var ctx = context.Background()

func open(t testing.TB, o Opener, hook store.CommitHook) store.Store {
	t.Helper()
	s, err := o(hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t testing.TB, b Backend) store.Store {
	return open(t, b.NewDatabase(t), nil)
}

// ms truncates to what a store keeps: milliseconds, in UTC.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

var t0 = ms(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))

func contact(id string) *store.Contact {
	return &store.Contact{ID: id, InstanceID: "inst", InitialContactID: id, FlowID: "flow", QueueID: "queue",
		State: store.ContactQueued, Attributes: map[string]string{"k": "v"}, ContentTypes: []string{"text/plain"},
		CreatedAt: t0, Deadline: t0.Add(24 * 365 * time.Hour)}
}

func participant(id, contactID, role string) store.Participant {
	return store.Participant{ID: id, ContactID: contactID, Role: role, DisplayName: "name " + id, TokenHash: "th-" + id,
		State: store.ParticipantJoined, JoinedAt: t0}
}

func message(contactID, id, token string) store.Item {
	return store.Item{ID: id, ContactID: contactID, ParticipantID: "p-" + contactID, ClientToken: token, Type: "MESSAGE",
		ContentType: "text/plain", Content: "content " + id, DisplayName: "Ada", Role: "CUSTOMER", InTranscript: true}
}

func event(contactID, id string) store.Item {
	return store.Item{ID: id, ContactID: contactID, ParticipantID: "p-" + contactID, Type: "EVENT",
		ContentType: "application/vnd.amazonaws.connect.event.typing", Role: "CUSTOMER"}
}

// newChat creates a chat with a customer p-<id>.
func newChat(t testing.TB, s store.Store, id string) {
	t.Helper()
	if _, err := s.Apply(ctx, &store.Change{NewContact: contact(id),
		NewParticipants: []store.Participant{participant("p-"+id, id, "CUSTOMER")}}); err != nil {
		t.Fatal(err)
	}
}

func apply(t testing.TB, s store.Store, c *store.Change) []store.Item {
	t.Helper()
	items, err := s.Apply(ctx, c)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return items
}

func wantErr(t testing.TB, s store.Store, c *store.Change, want error) {
	t.Helper()
	if _, err := s.Apply(ctx, c); !errors.Is(err, want) {
		t.Errorf("Apply: %v, want %v", err, want)
	}
}

func equal[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// testChangeFields writes every field of Change and reads it back.
func testChangeFields(t *testing.T, b Backend) {
	var hooked []store.Item
	var mu sync.Mutex
	s := open(t, b.NewDatabase(t), func(items []store.Item) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, items...)
	})

	// NewContact, NewParticipants, Tokens, Items, Idempotency.
	k := contact("c1")
	k.CustomerAttributes = map[string]string{"page": "/checkout"}
	cust := participant("cust", "c1", "CUSTOMER")
	tok := store.ConnectionToken{Hash: "ct-1", ParticipantID: "cust", Expires: t0.Add(time.Hour)}
	first := message("c1", "m1", "tok-1")
	first.ParticipantID = "cust"
	first.Attachments = []store.Attachment{{ID: "a1", Name: "x.pdf", ContentType: "application/pdf", Status: store.FileInProgress}}
	before := time.Now().Add(-time.Second)
	items := apply(t, s, &store.Change{
		Idempotency:     &store.Idempotency{Scope: "inst", ClientToken: "start-1", Response: []byte("first answer")},
		NewContact:      k,
		NewParticipants: []store.Participant{cust},
		Tokens:          []store.ConnectionToken{tok},
		Items:           []store.Item{first},
	})
	if len(items) != 1 || items[0].Seq != 1 || items[0].Time.Before(before) || items[0].Time.After(time.Now().Add(time.Second)) {
		t.Fatalf("items as stored: %+v", items)
	}
	got, err := s.Contact(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "contact", got, *k)
	gotP, err := s.Participant(ctx, "cust")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "participant", gotP, cust)
	sp, sc, err := s.Session(ctx, "cust")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Session's participant", sp, cust)
	equal(t, "Session's contact", sc, *k)
	if _, _, err := s.Session(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session of nobody: %v", err)
	}
	if p, err := s.ParticipantByToken(ctx, "th-cust"); err != nil || p.ID != "cust" {
		t.Errorf("ParticipantByToken: %+v, %v", p, err)
	}
	gotT, err := s.ConnectionToken(ctx, "ct-1")
	equal(t, "connection token", gotT, tok)
	if r, err := s.Idempotency(ctx, "inst", "start-1"); err != nil || string(r) != "first answer" {
		t.Errorf("Idempotency: %q, %v", r, err)
	}
	want := first
	want.Seq, want.Time = items[0].Seq, items[0].Time
	for name, read := range map[string]func() (store.Item, error){
		"Item":              func() (store.Item, error) { return s.Item(ctx, "c1", "m1") },
		"ItemByClientToken": func() (store.Item, error) { return s.ItemByClientToken(ctx, "cust", "tok-1") },
	} {
		it, err := read()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		equal(t, name, it, want)
	}
	if _, err := s.Item(ctx, "other", "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Item of another chat: %v", err)
	}

	// ConnectAgent, more participants, Acknowledge, Receipts, Timers.
	agent := participant("agent", "c1", "AGENT")
	agent.AgentID = "ag1"
	meta := store.Item{ID: "md1", ContactID: "c1", ParticipantID: "agent", Type: "MESSAGEMETADATA", MessageID: "m1",
		Receipts: []store.Receipt{{MessageID: "m1", RecipientID: "agent", ContactID: "c1", Read: t0}}}
	timers := map[string]store.ParticipantTimers{"CUSTOMER": {IdleMinutes: 2, DisconnectMinutes: 5}}
	apply(t, s, &store.Change{
		RequireActive:   "c1",
		NewParticipants: []store.Participant{agent},
		ConnectAgent:    &store.ConnectAgent{ContactID: "c1", AgentID: "ag1", At: t0.Add(time.Minute), Exclusive: true},
		Acknowledge:     []string{"cust"},
		Items:           []store.Item{meta},
		Receipts:        []store.Receipt{{MessageID: "m1", RecipientID: "agent", ContactID: "c1", Delivered: t0}},
		Timers:          &store.SetTimers{ContactID: "c1", Timers: timers},
	})
	// A later receipt keeps the first times and fills in the missing one.
	apply(t, s, &store.Change{Receipts: []store.Receipt{
		{MessageID: "m1", RecipientID: "agent", ContactID: "c1", Delivered: t0.Add(time.Hour), Read: t0.Add(time.Second)}}})
	got, _ = s.Contact(ctx, "c1")
	k.State, k.AgentID, k.ConnectedAt, k.Timers = store.ContactConnected, "ag1", t0.Add(time.Minute), timers
	equal(t, "connected contact", got, *k)
	if p, _ := s.Participant(ctx, "cust"); !p.Connected {
		t.Error("Acknowledge did not mark the participant connected")
	}
	ps, err := s.Participants(ctx, "c1")
	if err != nil || len(ps) != 2 {
		t.Errorf("Participants: %+v, %v", ps, err)
	}
	if ps, err := s.AgentParticipants(ctx, "ag1"); err != nil || len(ps) != 1 || ps[0].ID != "agent" {
		t.Errorf("AgentParticipants: %+v, %v", ps, err)
	}
	rcs, err := s.Receipts(ctx, []string{"m1", "none"})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "receipts", rcs, map[string][]store.Receipt{"m1": {{MessageID: "m1", RecipientID: "agent", ContactID: "c1",
		Delivered: t0, Read: t0.Add(time.Second)}}})
	if it, err := s.Item(ctx, "c1", "md1"); err != nil || it.MessageID != "m1" || len(it.Receipts) != 1 || it.Seq != 2 || it.InTranscript {
		t.Errorf("metadata item: %+v, %v", it, err)
	}

	// ItemUpdates.
	upd := []store.Attachment{{ID: "a1", Name: "x.pdf", ContentType: "application/pdf", Status: store.FileApproved}}
	apply(t, s, &store.Change{ItemUpdates: map[string]store.ItemUpdate{"m1": {Attachments: upd, Content: "checked"}}})
	if it, _ := s.Item(ctx, "c1", "m1"); it.Content != "checked" || len(it.Attachments) != 1 || it.Attachments[0].Status != store.FileApproved {
		t.Errorf("updated item: %+v", it)
	}

	// Leave, End.
	apply(t, s, &store.Change{Leave: []store.Leave{{ParticipantID: "cust", At: t0.Add(2 * time.Minute)}}})
	if p, _ := s.Participant(ctx, "cust"); p.State != store.ParticipantLeft || !p.LeftAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("left participant: %+v", p)
	}
	apply(t, s, &store.Change{End: &store.End{ContactID: "c1", At: t0.Add(3 * time.Minute), Reason: "CUSTOMER_DISCONNECT"}})
	got, _ = s.Contact(ctx, "c1")
	if got.State != store.ContactEnded || !got.EndedAt.Equal(t0.Add(3*time.Minute)) || got.DisconnectReason != "CUSTOMER_DISCONNECT" {
		t.Errorf("ended contact: %+v", got)
	}
	for c, err := range s.ActiveContacts(ctx) {
		if err != nil || c.ID == "c1" {
			t.Errorf("ActiveContacts yields %s, %v", c.ID, err)
		}
	}
	if ps, _ := s.AgentParticipants(ctx, "ag1"); len(ps) != 0 {
		t.Errorf("AgentParticipants of an ended chat: %+v", ps)
	}

	// FilesConfig.
	fc := store.FilesConfig{InstanceID: "inst", Scope: "CHAT", MaxBytes: 1 << 20, Extensions: []string{"pdf", "png"}, ModifiedAt: t0}
	apply(t, s, &store.Change{FilesConfig: &fc})
	fc.MaxBytes, fc.Extensions = 2<<20, []string{"txt"}
	apply(t, s, &store.Change{FilesConfig: &fc})
	gotFC, err := s.FilesConfig(ctx, "inst", "CHAT")
	equal(t, "files config", gotFC, fc)
	if _, err := s.FilesConfig(ctx, "inst", "OTHER"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FilesConfig of an unknown scope: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	var ids []string
	for _, it := range hooked {
		ids = append(ids, it.ID)
	}
	equal(t, "items the hook saw", ids, []string{"m1", "md1"})
}

// testErrors: each error a change can fail with, and that it writes nothing.
func testErrors(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	newChat(t, s, "q")
	apply(t, s, &store.Change{Idempotency: &store.Idempotency{Scope: "s", ClientToken: "t", Response: []byte("1")}})
	apply(t, s, &store.Change{Items: []store.Item{message("c", "m1", "dup")}})
	apply(t, s, &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: "q", AgentID: "a", At: t0, Exclusive: true}})

	extra := message("c", "extra", "")
	tests := []struct {
		name string
		c    store.Change
		want error
	}{
		{"RequireActive of an unknown chat", store.Change{RequireActive: "nope", Items: []store.Item{extra}}, store.ErrNotFound},
		{"items of an unknown chat", store.Change{Items: []store.Item{message("nope", "x", "")}}, store.ErrNotFound},
		{"duplicate idempotency key", store.Change{Idempotency: &store.Idempotency{Scope: "s", ClientToken: "t", Response: []byte("2")},
			Items: []store.Item{extra}}, store.ErrDuplicate},
		{"duplicate client token", store.Change{Items: []store.Item{extra, message("c", "m2", "dup")}}, store.ErrDuplicate},
		{"exclusive accept of a taken chat", store.Change{Items: []store.Item{extra},
			ConnectAgent: &store.ConnectAgent{ContactID: "q", AgentID: "b", At: t0, Exclusive: true}}, store.ErrConflict},
		{"file update from a wrong state", store.Change{Items: []store.Item{extra},
			FileUpdates: []store.FileUpdate{{ID: "nofile", From: store.FileUploaded, To: store.FileApproved}}}, store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, s, &tc.c, tc.want) })
	}
	// A non-exclusive accept of a taken chat is no error, and changes nothing.
	apply(t, s, &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: "q", AgentID: "b", At: t0}})
	if k, _ := s.Contact(ctx, "q"); k.AgentID != "a" {
		t.Errorf("a second accept replaced the agent: %+v", k)
	}

	apply(t, s, &store.Change{Leave: []store.Leave{{ParticipantID: "p-c", At: t0}}})
	wantErr(t, s, &store.Change{Items: []store.Item{extra}, Leave: []store.Leave{{ParticipantID: "p-c", At: t0}}}, store.ErrEnded)
	apply(t, s, &store.Change{End: &store.End{ContactID: "c", At: t0}})
	wantErr(t, s, &store.Change{Items: []store.Item{extra}, End: &store.End{ContactID: "c", At: t0}}, store.ErrEnded)
	wantErr(t, s, &store.Change{RequireActive: "c", Items: []store.Item{extra}}, store.ErrEnded)

	if _, err := s.Item(ctx, "c", "extra"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an item of a failed change was written: %v", err)
	}
	if r, _ := s.Idempotency(ctx, "s", "t"); string(r) != "1" {
		t.Errorf("idempotency response %q, want the first", r)
	}
	// Nothing failed used up a seq.
	it := apply(t, s, &store.Change{Items: []store.Item{message("c", "after", "")}})
	if it[0].Seq != 2 {
		t.Errorf("seq after failed changes: %d, want 2", it[0].Seq)
	}
	for name, f := range map[string]func() error{
		"Contact":           func() error { _, err := s.Contact(ctx, "nope"); return err },
		"Participant":       func() error { _, err := s.Participant(ctx, "nope"); return err },
		"ConnectionToken":   func() error { _, err := s.ConnectionToken(ctx, "nope"); return err },
		"Idempotency":       func() error { _, err := s.Idempotency(ctx, "s", "nope"); return err },
		"ItemByClientToken": func() error { _, err := s.ItemByClientToken(ctx, "p-c", "nope"); return err },
		"File":              func() error { _, err := s.File(ctx, "nope"); return err },
		"AgentByKey":        func() error { _, err := s.AgentByKey(ctx, "nope"); return err },
		"TranscriptNewest":  func() error { _, err := s.TranscriptNewest(ctx, "q", 1); return err },
		"TranscriptSeqAt":   func() error { _, err := s.TranscriptSeqAt(ctx, "q", t0, true); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s of nothing: %v, want ErrNotFound", name, err)
		}
	}
}

// testFailingChangeFailsAlone: changes failing inside a busy batch fail
// alone, write nothing, and the others commit.
func testFailingChangeFailsAlone(t *testing.T, b Backend) {
	var mu sync.Mutex
	var hooked []string
	s := open(t, b.NewDatabase(t), func(items []store.Item) {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			hooked = append(hooked, it.ID)
		}
	})
	newChat(t, s, "c")
	newChat(t, s, "ended")
	apply(t, s, &store.Change{End: &store.End{ContactID: "ended", At: t0}})
	apply(t, s, &store.Change{Items: []store.Item{message("c", "dup", "dup")}})
	apply(t, s, &store.Change{Idempotency: &store.Idempotency{Scope: "s", ClientToken: "taken", Response: []byte("x")}})

	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := &store.Change{RequireActive: "c", Items: []store.Item{message("c", fmt.Sprint("ok", i), fmt.Sprint("ok", i))}}
			switch i % 4 {
			case 1:
				ch.Items = append([]store.Item{message("c", fmt.Sprint("partial", i), "")}, message("c", fmt.Sprint("dup", i), "dup"))
			case 2:
				ch.RequireActive = "ended"
			case 3:
				ch.Idempotency = &store.Idempotency{Scope: "s", ClientToken: "taken", Response: []byte("y")}
			}
			_, errs[i] = s.Apply(ctx, ch)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := []error{nil, store.ErrDuplicate, store.ErrEnded, store.ErrDuplicate}[i%4]; !errors.Is(err, want) {
			t.Errorf("change %d: %v, want %v", i, err, want)
		}
	}
	items, err := s.Transcript(ctx, "c", 0, true, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1+n/4 {
		t.Errorf("%d items stored, want %d (nothing of a failed change)", len(items), 1+n/4)
	}
	for i, it := range items {
		if it.Seq != int64(i+1) {
			t.Fatalf("seqs with gaps after failed changes: item %d has seq %d", i, it.Seq)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != len(items) {
		t.Errorf("the hook saw %d items, %d were stored", len(hooked), len(items))
	}
}

// testSeqPerChat: concurrent writers in several chats get each chat's seqs
// 1, 2, 3… in commit order, and times that never decrease.
func testSeqPerChat(t *testing.T, b Backend) {
	var mu sync.Mutex
	var calls atomic.Int32
	hooked := map[string][]int64{}
	s := open(t, b.NewDatabase(t), func(items []store.Item) {
		if calls.Add(1) != 1 {
			t.Error("the hook was called while a call was running") // one call at a time
		}
		defer calls.Add(-1)
		time.Sleep(time.Millisecond) // widens the window for a second call
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			hooked[it.ContactID] = append(hooked[it.ContactID], it.Seq)
		}
	})
	chats := []string{"a", "b", "c"}
	for _, c := range chats {
		newChat(t, s, c)
	}
	const writers = 150
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := chats[i%len(chats)]
			// Two items per change, one ephemeral: both get seqs.
			if _, err := s.Apply(ctx, &store.Change{RequireActive: c,
				Items: []store.Item{message(c, fmt.Sprint(c, i), ""), event(c, fmt.Sprint(c, i, "e"))}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, c := range chats {
		want := make([]int64, 2*writers/len(chats))
		for i := range want {
			want[i] = int64(i + 1)
		}
		mu.Lock()
		equal(t, "seqs the hook saw for "+c, hooked[c], want)
		mu.Unlock()
		items, err := s.Transcript(ctx, c, 0, true, 1000)
		if err != nil || len(items) != writers/len(chats) {
			t.Fatalf("transcript of %s: %d items, %v", c, len(items), err)
		}
		for i := 1; i < len(items); i++ {
			if items[i].Time.Before(items[i-1].Time) || items[i].Seq <= items[i-1].Seq {
				t.Fatalf("chat %s: item %d (seq %d, %v) after (seq %d, %v)", c, i, items[i].Seq, items[i].Time, items[i-1].Seq, items[i-1].Time)
			}
		}
	}
}

// testTranscriptPaging: pages in both directions, from a seq, a time or
// the newest, skipping ephemeral items and other chats.
func testTranscriptPaging(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	newChat(t, s, "other")
	var all []store.Item // transcript items of c, in order
	for i := range 10 {
		items := apply(t, s, &store.Change{Items: []store.Item{message("c", fmt.Sprint("m", i), ""), event("c", fmt.Sprint("e", i)),
			message("other", fmt.Sprint("o", i), "")}})
		all = append(all, items[0])
		if i == 4 {
			time.Sleep(5 * time.Millisecond) // a time between items
		}
	}
	ids := func(items []store.Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	page := func(from int64, forward bool, limit int) []string {
		t.Helper()
		items, err := s.Transcript(ctx, "c", from, forward, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ids(items)
	}
	equal(t, "forward from the start", page(0, true, 3), []string{"m0", "m1", "m2"})
	equal(t, "forward from m3's seq", page(all[3].Seq, true, 3), []string{"m3", "m4", "m5"})
	equal(t, "forward from an event's seq", page(all[3].Seq+1, true, 1), []string{"m4"})
	equal(t, "backward from the end", page(1<<62, false, 3), []string{"m9", "m8", "m7"})
	equal(t, "backward from m3's seq", page(all[3].Seq, false, 10), []string{"m3", "m2", "m1", "m0"})
	equal(t, "past the end", page(all[9].Seq+1, true, 3), []string(nil))

	// ItemsFrom has every item, ephemeral ones included, by seq.
	items, err := s.ItemsFrom(ctx, "c", all[2].Seq, 3)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ItemsFrom", ids(items), []string{"m2", "e2", "m3"})
	if items[0].Seq != all[2].Seq || items[2].Seq != all[3].Seq {
		t.Errorf("ItemsFrom seqs: %d…%d", items[0].Seq, items[2].Seq)
	}
	// LastSeqs: the newest seq, ephemeral items included; unknown chats left out.
	last, err := s.LastSeqs(ctx, []string{"c", "no-such-chat"})
	if err != nil {
		t.Fatal(err)
	}
	if newest, _ := s.ItemsFrom(ctx, "c", all[9].Seq, 100); len(last) != 1 || last["c"] != newest[len(newest)-1].Seq {
		t.Errorf("LastSeqs: %v, newest %+v", last, newest[len(newest)-1])
	}

	// Walk every page both ways: each item once.
	for _, forward := range []bool{true, false} {
		var got []string
		from := int64(0)
		if !forward {
			from = 1 << 62
		}
		for {
			items, err := s.Transcript(ctx, "c", from, forward, 4)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(items)...)
			if len(items) < 4 {
				break
			}
			if forward {
				from = items[3].Seq + 1
			} else {
				from = items[3].Seq - 1
			}
		}
		want := ids(all)
		if !forward {
			slices.Reverse(want)
		}
		equal(t, fmt.Sprint("every page, forward ", forward), got, want)
	}

	newest, err := s.TranscriptNewest(ctx, "c", 3)
	if err != nil || newest != all[7].Seq {
		t.Errorf("TranscriptNewest(3): %d, %v; want %d", newest, err, all[7].Seq)
	}
	if oldest, _ := s.TranscriptNewest(ctx, "c", 100); oldest != all[0].Seq {
		t.Errorf("TranscriptNewest(100): %d, want the oldest %d", oldest, all[0].Seq)
	}
	mid := all[5].Time
	if seq, err := s.TranscriptSeqAt(ctx, "c", mid, true); err != nil || seq != all[5].Seq {
		t.Errorf("TranscriptSeqAt forward: %d, %v; want %d", seq, err, all[5].Seq)
	}
	if seq, err := s.TranscriptSeqAt(ctx, "c", mid.Add(-time.Millisecond), false); err != nil || seq != all[4].Seq {
		t.Errorf("TranscriptSeqAt backward: %d, %v; want %d", seq, err, all[4].Seq)
	}
}

// testIdempotency: a request repeated with its token is refused, and the
// first result stays.
func testIdempotency(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Apply(ctx, &store.Change{
				Idempotency: &store.Idempotency{Scope: "inst", ClientToken: "same", Response: []byte(fmt.Sprint(i))},
				Items:       []store.Item{message("c", fmt.Sprint("m", i), "")}})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Errorf("changes %d and %d both committed with one idempotency key", won, i)
		case !errors.Is(err, store.ErrDuplicate):
			t.Errorf("change %d: %v", i, err)
		}
	}
	if r, err := s.Idempotency(ctx, "inst", "same"); err != nil || string(r) != fmt.Sprint(won) {
		t.Errorf("stored response %q, %v; want the winner's %d", r, err, won)
	}
	if items, _ := s.Transcript(ctx, "c", 0, true, 100); len(items) != 1 {
		t.Errorf("%d items stored, want the winner's one", len(items))
	}
	// The same key in another scope is another key.
	apply(t, s, &store.Change{Idempotency: &store.Idempotency{Scope: "other", ClientToken: "same", Response: []byte("o")}})
	// A client token is per participant.
	apply(t, s, &store.Change{Items: []store.Item{message("c", "t1", "tok")}})
	wantErr(t, s, &store.Change{Items: []store.Item{message("c", "t2", "tok")}}, store.ErrDuplicate)
	other := message("c", "t3", "tok")
	other.ParticipantID = "someone else"
	apply(t, s, &store.Change{Items: []store.Item{other}})
}

// testFiles: a file's life, conditional updates, and the queries on files.
func testFiles(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	f := store.File{ID: "f1", ContactID: "c", ParticipantID: "p-c", Name: "a.png", ContentType: "image/png", Size: 42,
		State: store.FilePending, CreatedAt: t0}
	apply(t, s, &store.Change{NewFile: &f})
	f2 := f
	f2.ID = "f2"
	apply(t, s, &store.Change{NewFile: &f2})
	got, err := s.File(ctx, "f1")
	f.UpdatedAt = t0
	equal(t, "new file", got, f)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f1", From: store.FilePending, To: store.FileUploaded,
		SHA256: "abc", At: t0.Add(time.Second)}}})
	wantErr(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f1", From: store.FilePending, To: store.FileUploaded}}}, store.ErrConflict)
	if fs, err := s.UnfinishedFiles(ctx); err != nil || len(fs) != 1 || fs[0].ID != "f1" {
		t.Errorf("UnfinishedFiles: %+v, %v", fs, err)
	}
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{
		{ID: "f1", From: store.FileUploaded, To: store.FileApproved, ServeType: "image/png", ItemID: "it", At: t0.Add(2 * time.Second)},
		{ID: "f2", From: store.FilePending, To: store.FileRejected, Reason: "too big", At: t0.Add(2 * time.Second)}}})
	got, _ = s.File(ctx, "f1")
	f.State, f.SHA256, f.ServeType, f.ItemID, f.UpdatedAt = store.FileApproved, "abc", "image/png", "it", t0.Add(2*time.Second)
	equal(t, "approved file", got, f)
	if got, _ := s.File(ctx, "f2"); got.Reason != "too big" || got.SHA256 != "" {
		t.Errorf("rejected file: %+v", got)
	}
	f3 := f
	f3.ID, f3.State, f3.CreatedAt = "f3", store.FilePending, t0.Add(time.Minute)
	apply(t, s, &store.Change{NewFile: &f3})
	// A file left RECEIVING (its server stopped mid-upload) is abandoned too.
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f3", From: store.FilePending, To: store.FileReceiving, At: t0}}})
	if fs, err := s.AbandonedFiles(ctx, t0.Add(time.Minute), 10); err != nil || len(fs) != 0 {
		t.Errorf("AbandonedFiles before f3's time: %+v, %v", fs, err)
	}
	if fs, err := s.AbandonedFiles(ctx, t0.Add(time.Hour), 10); err != nil || len(fs) != 1 || fs[0].ID != "f3" {
		t.Errorf("AbandonedFiles: %+v, %v", fs, err)
	}
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f3", From: store.FileReceiving, To: store.FileRejected, At: t0}}})
	if n, err := s.CountFiles(ctx, "c"); err != nil || n != 1 {
		t.Errorf("CountFiles: %d, %v; want 1 (rejected files do not count)", n, err)
	}
	if fs, _ := s.ExpiredFiles(ctx, t0.Add(time.Hour), 10); len(fs) != 0 {
		t.Errorf("ExpiredFiles of a live chat: %+v", fs)
	}
	apply(t, s, &store.Change{End: &store.End{ContactID: "c", At: t0.Add(time.Minute)}})
	if fs, _ := s.ExpiredFiles(ctx, t0.Add(time.Minute), 10); len(fs) != 0 {
		t.Errorf("ExpiredFiles before the chat ended: %+v", fs)
	}
	if fs, err := s.ExpiredFiles(ctx, t0.Add(time.Hour), 10); err != nil || len(fs) != 3 {
		t.Errorf("ExpiredFiles: %+v, %v; want the three files", fs, err)
	}
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f1", From: store.FileApproved, To: store.FileDeleted, At: t0}}})
	if fs, err := s.ExpiredFiles(ctx, t0.Add(time.Hour), 10); err != nil || len(fs) != 2 || slices.ContainsFunc(fs, func(f store.File) bool { return f.ID == "f1" }) {
		t.Errorf("ExpiredFiles after deleting f1: %+v, %v", fs, err)
	}
}

// testUploadReceivers: the claim on an upload (RECEIVING) names its
// receiver and holds until its lease ends; the receiver renews it; another
// takes it over only once it ended, once, across stores; and the receiver
// whose claim was taken over can neither renew, record nor give it back.
func testUploadReceivers(t *testing.T, b Backend) {
	ss := stores(t, b, 3)
	s := ss[0]
	newChat(t, s, "c")
	apply(t, s, &store.Change{NewFile: &store.File{ID: "f", ContactID: "c", ParticipantID: "p-c", Name: "a.txt",
		ContentType: "text/plain", Size: 5, State: store.FilePending, CreatedAt: t0}})
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	claim := func(from, receiver string, at, until time.Time) *store.Change {
		return &store.Change{FileUpdates: []store.FileUpdate{{ID: "f", From: from, To: store.FileReceiving,
			Receiver: receiver, LeaseUntil: until, IfLeaseEnded: from == store.FileReceiving, At: at}}}
	}
	renew := func(receiver string, at time.Time) *store.Change {
		return &store.Change{FileUpdates: []store.FileUpdate{{ID: "f", From: store.FileReceiving, To: store.FileReceiving,
			Receiver: receiver, IfReceiver: receiver, LeaseUntil: at.Add(30 * time.Second), At: at}}}
	}
	record := func(receiver string, to string) *store.Change {
		return &store.Change{FileUpdates: []store.FileUpdate{{ID: "f", From: store.FileReceiving, To: to,
			SHA256: receiver + "-sha", IfReceiver: receiver, At: sec(90)}}}
	}

	apply(t, s, claim(store.FilePending, "a", t0, sec(30)))
	wantErr(t, s, claim(store.FileReceiving, "b", sec(10), sec(40)), store.ErrConflict) // a's lease holds
	apply(t, s, renew("a", sec(20)))                                                    // until 50 s
	wantErr(t, s, claim(store.FileReceiving, "b", sec(40), sec(70)), store.ErrConflict) // renewed
	wantErr(t, s, renew("b", sec(45)), store.ErrConflict)                               // not b's
	// a's node died: its lease ends, and one of the PUTs retrying on three
	// stores takes the upload over.
	errs := race(ss, 6, func(i int) *store.Change { return claim(store.FileReceiving, fmt.Sprint("b", i), sec(50), sec(80)) })
	if n := succeeded(t, errs, store.ErrConflict); n != 1 {
		t.Fatalf("%d of the PUTs took the upload over, want 1", n)
	}
	var winner string
	for i, err := range errs {
		if err == nil {
			winner = fmt.Sprint("b", i)
		}
	}
	// a, alive after all (it was cut off from the database), lost it.
	wantErr(t, s, renew("a", sec(51)), store.ErrConflict)
	wantErr(t, s, record("a", store.FileUploaded), store.ErrConflict)
	wantErr(t, s, record("a", store.FilePending), store.ErrConflict)
	apply(t, s, renew(winner, sec(85))) // until 115 s
	apply(t, s, record(winner, store.FileUploaded))
	if f, err := s.File(ctx, "f"); err != nil || f.State != store.FileUploaded || f.SHA256 != winner+"-sha" {
		t.Errorf("the file after %s recorded it: %+v, %v", winner, f, err)
	}
	// The receiver is cleared once the file leaves RECEIVING.
	wantErr(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f", From: store.FileUploaded, To: store.FileInProgress,
		IfReceiver: winner, At: sec(91)}}}, store.ErrConflict)
	// Without conditions, an update works as it always did; the
	// receiver's lease went with it, and is no check's.
	apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: "f", From: store.FileUploaded, To: store.FileInProgress, At: sec(91)}}})
	if fs, err := s.ClaimFiles(ctx, sec(92), time.Minute, 10); err != nil || len(fs) != 1 {
		t.Errorf("ClaimFiles of a check never leased: %+v, %v", fs, err)
	}
}

// testAgents: agents, their keys, and the queue they take chats from.
func testAgents(t *testing.T, b Backend) {
	s := newStore(t, b)
	a := store.Agent{ID: "a1", Name: "Grace", KeyHash: "kh1", CreatedAt: t0}
	apply(t, s, &store.Change{NewAgent: &a})
	wantErr(t, s, &store.Change{NewAgent: &store.Agent{ID: "a2", Name: "Grace", KeyHash: "kh2", CreatedAt: t0}}, store.ErrDuplicate)
	got, err := s.AgentByKey(ctx, "kh1")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "agent", got, a)
	for i, id := range []string{"q2", "q1", "q3"} {
		k := contact(id)
		k.CreatedAt = t0.Add(time.Duration([]int{2, 1, 3}[i]) * time.Second)
		apply(t, s, &store.Change{NewContact: k})
	}
	apply(t, s, &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: "q1", AgentID: "a1", At: t0}})
	qs, err := s.QueuedContacts(ctx, store.QueueQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	equal(t, "queued contacts, oldest first", ids, []string{"q2", "q3"})
	if qs, _ := s.QueuedContacts(ctx, store.QueueQuery{Limit: 1}); len(qs) != 1 {
		t.Errorf("QueuedContacts(1): %d", len(qs))
	}
}

// testConcurrentStores: four Store instances on one database (four
// processes) send into the same chats at once. Every chat's seqs are
// gap-free and every acknowledged item is in the transcript exactly once.
func testConcurrentStores(t *testing.T, b Backend) {
	if !b.Shared {
		t.Skipf("%s does not share a database between processes", b.Name)
	}
	o := b.NewDatabase(t)
	var stores []store.Store
	for range 4 {
		stores = append(stores, open(t, o, nil))
	}
	chats := []string{"c0", "c1", "c2", "c3", "c4"}
	for _, c := range chats {
		newChat(t, stores[0], c)
	}
	const perStore = 200
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[string]int{}
	)
	for si, s := range stores {
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < perStore; i += 8 {
					c := chats[(si+i)%len(chats)]
					id := fmt.Sprintf("s%d-%d", si, i)
					// Every fifth change writes to two chats, in an order
					// opposite to another store's: locks are taken in id
					// order, so no deadlock.
					items := []store.Item{message(c, id, id)}
					if i%5 == 0 {
						c2 := chats[(si+i+1+si%2)%len(chats)]
						items = append(items, message(c2, id+"b", ""))
					}
					if _, err := s.Apply(ctx, &store.Change{RequireActive: c, Items: items}); err != nil {
						t.Error(err)
						continue
					}
					mu.Lock()
					for _, it := range items {
						acked[it.ID]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	seen := map[string]int{}
	for _, c := range chats {
		items, err := stores[3].Transcript(ctx, c, 0, true, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range items {
			if it.Seq != int64(i+1) {
				t.Fatalf("chat %s: item %d has seq %d: a gap", c, i, it.Seq)
			}
			if i > 0 && it.Time.Before(items[i-1].Time) {
				t.Fatalf("chat %s: time goes back at seq %d", c, it.Seq)
			}
			seen[it.ID]++
		}
	}
	if len(acked) == 0 || len(seen) != len(acked) {
		t.Errorf("%d items acknowledged, %d stored", len(acked), len(seen))
	}
	for id, n := range seen {
		if n != 1 || acked[id] != 1 {
			t.Errorf("item %s: stored %d times, acknowledged %d times", id, n, acked[id])
		}
	}
}

// stores opens n Store instances on one database when the backend shares
// databases between processes, else one.
func stores(t *testing.T, b Backend, n int) []store.Store {
	o := b.NewDatabase(t)
	if !b.Shared {
		n = 1
	}
	var out []store.Store
	for range n {
		out = append(out, open(t, o, nil))
	}
	return out
}

// race runs n changes at once, spread over ss, and returns their errors.
func race(ss []store.Store, n int, change func(i int) *store.Change) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ss[i%len(ss)].Apply(ctx, change(i))
		}()
	}
	wg.Wait()
	return errs
}

// succeeded counts nil errors and checks the rest are want.
func succeeded(t *testing.T, errs []error, want error) int {
	t.Helper()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, want):
			t.Errorf("change %d: %v, want nil or %v", i, err, want)
		}
	}
	return ok
}

// testLimits: each kind of limit holds under concurrent changes (from
// several stores where the backend allows), and a change over a limit
// writes nothing.
func testLimits(t *testing.T, b Backend) {
	ss := stores(t, b, 3)
	s := ss[0]
	newChat(t, s, "c") // with one participant
	apply(t, s, &store.Change{NewAgent: &store.Agent{ID: "ag", Name: "Grace", KeyHash: "k", CreatedAt: t0}})

	errs := race(ss, 12, func(i int) *store.Change {
		p := participant(fmt.Sprint("extra", i), "c", "AGENT")
		return &store.Change{NewParticipants: []store.Participant{p}, Items: []store.Item{message("c", fmt.Sprint("joined", i), "")},
			Limits: []store.Limit{{Count: store.CountParticipants, Key: "c", Max: 4}}}
	})
	if ok := succeeded(t, errs, store.ErrLimit); ok != 3 {
		t.Errorf("%d participants joined under a limit of 4 with 1 there; want 3", ok)
	}
	if ps, _ := s.Participants(ctx, "c"); len(ps) != 4 {
		t.Errorf("%d participants stored, want 4", len(ps))
	}
	if items, _ := s.Transcript(ctx, "c", 0, true, 100); len(items) != 3 {
		t.Errorf("%d items stored, want only those of the 3 changes within the limit", len(items))
	}
	var le *store.LimitError
	for _, err := range errs {
		if errors.As(err, &le) {
			if le.Limit.Count != store.CountParticipants || le.Found != 5 {
				t.Errorf("LimitError %+v, want participants found 5", le)
			}
			break
		}
	}

	errs = race(ss, 10, func(i int) *store.Change {
		f := store.File{ID: fmt.Sprint("f", i), ContactID: "c", ParticipantID: "p-c", Name: "a.txt", ContentType: "text/plain",
			Size: 1, State: store.FilePending, CreatedAt: t0}
		return &store.Change{NewFile: &f, Limits: []store.Limit{{Count: store.CountFiles, Key: "c", Max: 2}}}
	})
	if ok := succeeded(t, errs, store.ErrLimit); ok != 2 {
		t.Errorf("%d files under a limit of 2; want 2", ok)
	}
	if n, _ := s.CountFiles(ctx, "c"); n != 2 {
		t.Errorf("%d files stored, want 2", n)
	}

	for i := range 6 {
		newChat(t, s, fmt.Sprint("q", i))
	}
	errs = race(ss, 6, func(i int) *store.Change {
		p := participant(fmt.Sprint("ag-in-q", i), fmt.Sprint("q", i), "AGENT")
		p.AgentID = "ag"
		return &store.Change{NewParticipants: []store.Participant{p},
			ConnectAgent: &store.ConnectAgent{ContactID: fmt.Sprint("q", i), AgentID: "ag", At: t0},
			Limits:       []store.Limit{{Count: store.CountAgentChats, Key: "ag", Max: 2}}}
	})
	if ok := succeeded(t, errs, store.ErrLimit); ok != 2 {
		t.Errorf("an agent took %d chats under a limit of 2", ok)
	}
	if ps, _ := s.AgentParticipants(ctx, "ag"); len(ps) != 2 {
		t.Errorf("%d chats of the agent stored, want 2", len(ps))
	}
}

// testQueue: the queue's pages, its count, its ceiling under concurrent
// starts, and ending a chat only while it is queued.
func testQueue(t *testing.T, b Backend) {
	ss := stores(t, b, 3)
	s := ss[0]
	errs := race(ss, 10, func(i int) *store.Change {
		k := contact(fmt.Sprint("k", i))
		k.FlowID = "f1"
		k.CreatedAt = t0.Add(time.Duration(i/2) * time.Second) // pairs share a time: the id orders them
		return &store.Change{NewContact: k, QueueCeiling: &store.QueueCeiling{FlowID: "f1", Max: 4}}
	})
	if ok := succeeded(t, errs, store.ErrQueueFull); ok != 4 {
		t.Errorf("%d chats queued under a ceiling of 4", ok)
	}
	other := contact("other")
	other.FlowID = "f2"
	apply(t, s, &store.Change{NewContact: other, QueueCeiling: &store.QueueCeiling{FlowID: "f2", Max: 4}})
	for flow, want := range map[string]int{"f1": 4, "f2": 1, "": 5} {
		if n, err := s.CountQueued(ctx, flow); err != nil || n != want {
			t.Errorf("CountQueued(%q): %d, %v; want %d", flow, n, err, want)
		}
	}
	// Page through f1 two at a time: every queued chat once, in order.
	var got []string
	q := store.QueueQuery{FlowID: "f1", Limit: 2}
	for {
		page, err := s.QueuedContacts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			got = append(got, k.ID)
		}
		if len(page) < 2 {
			break
		}
		q.AfterCreated, q.AfterID = page[1].CreatedAt, page[1].ID
	}
	if len(got) != 4 || !slices.IsSortedFunc(got, func(a, b string) int {
		ka, _ := s.Contact(ctx, a)
		kb, _ := s.Contact(ctx, b)
		if c := ka.CreatedAt.Compare(kb.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	}) {
		t.Errorf("queue pages: %v", got)
	}

	apply(t, s, &store.Change{ConnectAgent: &store.ConnectAgent{ContactID: got[0], AgentID: "a", At: t0}})
	wantErr(t, s, &store.Change{End: &store.End{ContactID: got[0], At: t0, OnlyQueued: true}}, store.ErrConflict)
	apply(t, s, &store.Change{End: &store.End{ContactID: got[1], At: t0, OnlyQueued: true}})
	if k, _ := s.Contact(ctx, got[1]); k.State != store.ContactEnded {
		t.Errorf("a queued chat ended with OnlyQueued is %s", k.State)
	}
}

// testAgentAdmin: listing, re-keying and removing console agents.
func testAgentAdmin(t *testing.T, b Backend) {
	s := newStore(t, b)
	for i, name := range []string{"Linus", "Ada"} {
		apply(t, s, &store.Change{NewAgent: &store.Agent{ID: fmt.Sprint("a", i), Name: name, KeyHash: "k" + name, CreatedAt: t0}})
	}
	as, err := s.Agents(ctx)
	if err != nil || len(as) != 2 || as[0].Name != "Ada" || as[1].Name != "Linus" {
		t.Fatalf("Agents: %+v, %v; want both, by name", as, err)
	}
	apply(t, s, &store.Change{AgentKey: &store.AgentKey{Name: "Ada", KeyHash: "new"}})
	if a, err := s.AgentByKey(ctx, "new"); err != nil || a.Name != "Ada" {
		t.Errorf("the new key: %+v, %v", a, err)
	}
	if _, err := s.AgentByKey(ctx, "kAda"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old key still signs in: %v", err)
	}
	wantErr(t, s, &store.Change{AgentKey: &store.AgentKey{Name: "Nobody", KeyHash: "x"}}, store.ErrNotFound)
	apply(t, s, &store.Change{RemoveAgent: "Linus"})
	wantErr(t, s, &store.Change{RemoveAgent: "Linus"}, store.ErrNotFound)
	if as, _ := s.Agents(ctx); len(as) != 1 {
		t.Errorf("%d agents after removing one, want 1", len(as))
	}
}

// testPrune: old tokens, idempotency records and ephemeral items go, at
// most Limit of each; transcript items stay; seqs are not used again.
func testPrune(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	typing := event("c", "typing")
	typing.Content = "not kept"
	stored := apply(t, s, &store.Change{
		Tokens:      []store.ConnectionToken{{Hash: "old", ParticipantID: "p-c", Expires: t0}, {Hash: "new", ParticipantID: "p-c", Expires: t0.Add(time.Hour)}},
		Idempotency: &store.Idempotency{Scope: "s", ClientToken: "t", Response: []byte("r")},
		Items:       []store.Item{message("c", "kept", ""), typing, event("c", "typing2")},
	})
	if stored[1].Content != "not kept" {
		t.Errorf("the committed ephemeral item lost its content: %+v", stored[1])
	}
	if it, err := s.Item(ctx, "c", "typing"); err != nil || it.Content != "" {
		t.Errorf("an ephemeral item as stored: %+v, %v; want no content", it, err)
	}
	n, err := s.Prune(ctx, store.Prune{TokensExpiredBefore: t0.Add(time.Minute), Limit: 10})
	if err != nil || n != 1 {
		t.Errorf("Prune of tokens: %d, %v; want 1", n, err)
	}
	if _, err := s.ConnectionToken(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := s.ConnectionToken(ctx, "new"); err != nil {
		t.Errorf("live token: %v", err)
	}
	future := time.Now().Add(time.Hour)
	if n, err := s.Prune(ctx, store.Prune{EphemeralBefore: future, Limit: 1}); err != nil || n != 1 {
		t.Errorf("Prune with a limit of 1: %d, %v", n, err)
	}
	if n, err := s.Prune(ctx, store.Prune{EphemeralBefore: future, IdempotencyBefore: future, Limit: 10}); err != nil || n != 2 {
		t.Errorf("Prune of the rest: %d, %v; want 2", n, err)
	}
	if _, err := s.Idempotency(ctx, "s", "t"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old idempotency record: %v", err)
	}
	if items, _ := s.Transcript(ctx, "c", 0, true, 10); len(items) != 1 {
		t.Errorf("the transcript after pruning: %+v", items)
	}
	next := apply(t, s, &store.Change{Items: []store.Item{message("c", "next", "")}})
	if next[0].Seq != 4 {
		t.Errorf("seq after pruning the newest items: %d, want 4", next[0].Seq)
	}
}

// testAttributesAndRoleCheck: Change.Attributes merges inside the
// transaction and refuses a result over MaxBytes; Change.RequireNoJoined
// refuses a change while a participant of a named role is joined, also
// when two such changes race from several stores.
func testAttributesAndRoleCheck(t *testing.T, b Backend) {
	ss := stores(t, b, 3)
	s := ss[0]
	newChat(t, s, "c")
	merge := func(set map[string]string, max int) error {
		_, err := s.Apply(ctx, &store.Change{Attributes: &store.MergeAttributes{ContactID: "c", Set: set, MaxBytes: max}})
		return err
	}
	if err := merge(map[string]string{"a": "1", "b": "2"}, 100); err != nil {
		t.Fatal(err)
	}
	if err := merge(map[string]string{"b": "3"}, 100); err != nil {
		t.Fatal(err)
	}
	if err := merge(map[string]string{"c": "12345"}, 11); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("over MaxBytes with the kept attributes: %v, want ErrTooLarge", err)
	}
	wantErr(t, s, &store.Change{Attributes: &store.MergeAttributes{ContactID: "nope", Set: map[string]string{"a": "1"}, MaxBytes: 9}}, store.ErrNotFound)
	k, err := s.Contact(ctx, "c")
	if err != nil || len(k.Attributes) != 3 || k.Attributes["k"] != "v" || k.Attributes["a"] != "1" || k.Attributes["b"] != "3" {
		t.Errorf("attributes = %v, %v", k.Attributes, err)
	}
	// An update moves UpdatedAt (DescribeContact's LastUpdateTimestamp)
	// forward, never back.
	later := k.CreatedAt.Add(time.Hour)
	for _, at := range []time.Time{later, later.Add(-time.Minute)} {
		apply(t, s, &store.Change{Attributes: &store.MergeAttributes{ContactID: "c", Set: map[string]string{"d": "4"}, MaxBytes: 100, At: at}})
		k, err = s.Contact(ctx, "c")
		if err != nil || !k.UpdatedAt.Equal(later) || !k.LastUpdate().Equal(later) {
			t.Errorf("after an update at %v: UpdatedAt %v, LastUpdate %v (%v), want %v", at, k.UpdatedAt, k.LastUpdate(), err, later)
		}
	}

	check := &store.RoleCheck{ContactID: "c", Roles: []string{"AGENT", "CUSTOM_BOT"}}
	errs := race(ss, 6, func(i int) *store.Change {
		bot := participant(fmt.Sprint("bot", i), "c", "CUSTOM_BOT")
		return &store.Change{RequireNoJoined: check, NewParticipants: []store.Participant{bot}}
	})
	if ok := succeeded(t, errs, store.ErrConflict); ok != 1 {
		t.Errorf("%d bots joined at once under RequireNoJoined, want 1", ok)
	}
	if ps, _ := s.Participants(ctx, "c"); len(ps) != 2 {
		t.Errorf("%d participants, want the customer and one bot", len(ps))
	}
}

// testErase: erasing a chat deletes everything of it and leaves a
// tombstone; erasing it again succeeds; an unknown chat is ErrNotFound;
// other chats keep everything.
func testErase(t *testing.T, b Backend) {
	s := newStore(t, b)
	for _, c := range []string{"gone", "kept"} {
		newChat(t, s, c)
		f := store.File{ID: "f-" + c, ContactID: c, ParticipantID: "p-" + c, Name: "a.txt", ContentType: "text/plain", Size: 1,
			State: store.FilePending, CreatedAt: t0}
		apply(t, s, &store.Change{
			Idempotency: &store.Idempotency{Scope: "i", ClientToken: "req-" + c, Response: []byte("r"), ContactID: c},
			Tokens:      []store.ConnectionToken{{Hash: "ct-" + c, ParticipantID: "p-" + c, Expires: t0.Add(time.Hour)}},
			Items:       []store.Item{message(c, "m-"+c, "tok")},
			Receipts:    []store.Receipt{{MessageID: "m-" + c, RecipientID: "x", ContactID: c, Read: t0}},
			NewFile:     &f,
		})
		apply(t, s, &store.Change{Idempotency: &store.Idempotency{Scope: "start-upload:p-" + c, ClientToken: "u", Response: []byte("r")}})
		apply(t, s, &store.Change{End: &store.End{ContactID: c, At: t0.Add(time.Minute)}})
	}
	if fs, err := s.Files(ctx, "gone"); err != nil || len(fs) != 1 {
		t.Errorf("Files: %+v, %v", fs, err)
	}
	if ids, err := s.EndedContacts(ctx, t0, t0.Add(time.Hour)); err != nil || len(ids) != 2 {
		t.Errorf("EndedContacts: %v, %v", ids, err)
	}
	if ids, _ := s.EndedContacts(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour)); len(ids) != 0 {
		t.Errorf("EndedContacts of a later period: %v", ids)
	}
	tomb := &store.Tombstone{ContactID: "gone", At: t0.Add(time.Hour), Reason: "GDPR request"}
	apply(t, s, &store.Change{Erase: tomb})
	for name, f := range map[string]func() error{
		"contact":      func() error { _, err := s.Contact(ctx, "gone"); return err },
		"participant":  func() error { _, err := s.Participant(ctx, "p-gone"); return err },
		"token":        func() error { _, err := s.ConnectionToken(ctx, "ct-gone"); return err },
		"item":         func() error { _, err := s.Item(ctx, "gone", "m-gone"); return err },
		"file":         func() error { _, err := s.File(ctx, "f-gone"); return err },
		"idempotency":  func() error { _, err := s.Idempotency(ctx, "i", "req-gone"); return err },
		"upload scope": func() error { _, err := s.Idempotency(ctx, "start-upload:p-gone", "u"); return err },
	} {
		if err := f(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the erased chat's %s: %v, want ErrNotFound", name, err)
		}
	}
	if rcs, _ := s.Receipts(ctx, []string{"m-gone"}); len(rcs) != 0 {
		t.Errorf("the erased chat's receipts: %+v", rcs)
	}
	if got, err := s.Tombstone(ctx, "gone"); err != nil || got.Reason != tomb.Reason || !got.At.Equal(tomb.At) {
		t.Errorf("Tombstone: %+v, %v", got, err)
	}
	apply(t, s, &store.Change{Erase: &store.Tombstone{ContactID: "gone", At: t0.Add(2 * time.Hour), Reason: "again"}})
	if got, _ := s.Tombstone(ctx, "gone"); got.Reason != tomb.Reason {
		t.Errorf("a second erasure replaced the tombstone: %+v", got)
	}
	wantErr(t, s, &store.Change{Erase: &store.Tombstone{ContactID: "never", At: t0}}, store.ErrNotFound)
	if _, err := s.Tombstone(ctx, "kept"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tombstone of a kept chat: %v", err)
	}
	if items, _ := s.Transcript(ctx, "kept", 0, true, 10); len(items) != 1 {
		t.Errorf("the other chat's transcript: %+v", items)
	}
	if _, err := s.Idempotency(ctx, "start-upload:p-kept", "u"); err != nil {
		t.Errorf("the other chat's upload record: %v", err)
	}
	if err := s.Scrub(ctx); err != nil {
		t.Errorf("Scrub: %v", err)
	}
}

// testConsole: agent status, canned responses per instance, contacts by
// an attribute (never the customer's), and the search over the messages of
// an agent's chats.
func testConsole(t *testing.T, b Backend) {
	s := newStore(t, b)
	apply(t, s, &store.Change{NewAgent: &store.Agent{ID: "a1", Name: "Grace", KeyHash: "kh1", CreatedAt: t0}})
	if a, err := s.AgentByKey(ctx, "kh1"); err != nil || a.Status == store.AgentAway {
		t.Fatalf("a new agent: %+v, %v; want it available", a, err)
	}
	apply(t, s, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "a1", Status: store.AgentAway}})
	if a, _ := s.AgentByKey(ctx, "kh1"); a.Status != store.AgentAway {
		t.Errorf("status = %q, want AWAY", a.Status)
	}
	if as, _ := s.Agents(ctx); len(as) != 1 || as[0].Status != store.AgentAway {
		t.Errorf("Agents = %+v", as)
	}
	wantErr(t, s, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "nobody", Status: store.AgentAway}}, store.ErrNotFound)
	// Accepting is refused, in the transaction, while the agent is Away.
	newChat(t, s, "q")
	accept := func() *store.Change {
		p := participant("pa", "q", "AGENT")
		p.AgentID = "a1"
		return &store.Change{NewParticipants: []store.Participant{p}, Limits: []store.Limit{{Count: store.CountAgentAway, Key: "a1", Max: 0}}}
	}
	wantErr(t, s, accept(), store.ErrLimit)
	apply(t, s, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "a1", Status: store.AgentAvailable}})
	apply(t, s, accept())
	apply(t, s, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "a1", Status: store.AgentAway}})

	canned := func(id, instance, shortcut string) *store.Change {
		return &store.Change{NewCanned: &store.Canned{ID: id, InstanceID: instance, Shortcut: shortcut, Text: "text " + id, CreatedAt: t0}}
	}
	apply(t, s, canned("c1", "inst", "thanks"))
	apply(t, s, canned("c2", "inst", "hello"))
	apply(t, s, canned("c3", "other", "thanks"))
	wantErr(t, s, canned("c4", "inst", "thanks"), store.ErrDuplicate)
	list, err := s.CannedResponses(ctx, "inst")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "canned responses, by shortcut", list, []store.Canned{
		{ID: "c2", InstanceID: "inst", Shortcut: "hello", Text: "text c2", CreatedAt: t0},
		{ID: "c1", InstanceID: "inst", Shortcut: "thanks", Text: "text c1", CreatedAt: t0}})
	wantErr(t, s, &store.Change{RemoveCanned: &store.CannedKey{InstanceID: "other", ID: "c1"}}, store.ErrNotFound)
	apply(t, s, &store.Change{RemoveCanned: &store.CannedKey{InstanceID: "inst", ID: "c1"}})
	if list, _ := s.CannedResponses(ctx, "inst"); len(list) != 1 {
		t.Errorf("after removing: %+v", list)
	}

	// Chats k1, k2 of customer 42 (k2 newer), k3 of 7; k4 claims 42 only
	// in what a browser sent. The agent was in k1.
	for i, id := range []string{"k1", "k2", "k3", "k4"} {
		k := contact(id)
		k.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		k.Attributes = map[string]string{"CustomerId": []string{"42", "42", "7", ""}[i]}
		if id == "k4" {
			k.Attributes, k.CustomerAttributes = map[string]string{}, map[string]string{"CustomerId": "42"}
		}
		apply(t, s, &store.Change{NewContact: k})
	}
	cs, err := s.ContactsWithAttribute(ctx, "CustomerId", "42", 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	equal(t, "customer 42's chats, newest first", ids, []string{"k2", "k1"})
	if cs, _ := s.ContactsWithAttribute(ctx, "CustomerId", "42", 1); len(cs) != 1 {
		t.Errorf("the limit: %d", len(cs))
	}

	agent := participant("ag1", "k1", "AGENT")
	agent.AgentID = "a1"
	cust := participant("cu1", "k1", "CUSTOMER")
	cust.DisplayName = "Ada"
	msg := func(contact, id, content string) store.Item {
		it := message(contact, id, "")
		it.Content = content
		return it
	}
	apply(t, s, &store.Change{NewParticipants: []store.Participant{cust, agent, participant("cu3", "k3", "CUSTOMER")},
		Items: []store.Item{msg("k1", "m1", "My REFUND for order 100% late"), msg("k1", "m2", "hello")}})
	apply(t, s, &store.Change{Items: []store.Item{msg("k3", "m3", "refund please")}})
	found, err := s.SearchAgentMessages(ctx, "a1", "refund", 10)
	if err != nil || len(found) != 1 || found[0].Item.ID != "m1" || found[0].Customer != "Ada" {
		t.Fatalf("search = %+v, %v; want m1 only (k3 is not the agent's)", found, err)
	}
	if found, _ := s.SearchAgentMessages(ctx, "a1", "100%", 10); len(found) != 1 {
		t.Errorf("a search for a literal %%: %+v", found)
	}
	if found, _ := s.SearchAgentMessages(ctx, "a1", "1_0", 10); len(found) != 0 {
		t.Errorf("_ matched as a wildcard: %+v", found)
	}
}

// testDeadlines: due deadlines are claimed exactly once by concurrent
// sweepers (several stores on one database where the backend allows), a
// claim that outlives its lease is claimed again, and the conditional
// changes that apply them take effect once however many sweepers race.
func testDeadlines(t *testing.T, b Backend) {
	ss := stores(t, b, 4)
	s := ss[0]
	due, later := t0.Add(time.Hour), t0.Add(48*time.Hour)
	now := t0.Add(2 * time.Hour)
	type key struct{ kind, contact, participant string }
	want := map[key]time.Time{}
	for i := range 15 {
		id := fmt.Sprintf("dl-%d", i)
		c := contact(id)
		p := participant("p-"+id, id, "CUSTOMER")
		switch i % 5 {
		case 0: // the chat's duration ran out (its connect-by too: the expiry ends it)
			c.Deadline, c.ConnectBy = due, due
			want[key{store.DueExpiry, id, ""}] = due
		case 1: // the customer's idle timeout ran out
			p.IdleAt = due
			want[key{store.DueIdle, id, p.ID}] = due
		case 2: // the idle customer's auto-disconnect timeout ran out
			p.Idle, p.DisconnectAt = true, due
			want[key{store.DueDisconnect, id, p.ID}] = due
		case 3: // nothing due yet
			p.IdleAt, c.ConnectBy = later, later
		case 4: // the customer never connected
			c.ConnectBy = due
			want[key{store.DueConnectBy, id, ""}] = due
		}
		apply(t, s, &store.Change{NewContact: c, NewParticipants: []store.Participant{p}})
	}
	// Deadlines of a participant who left, and of a chat that ended, are
	// never due.
	left := participant("p-dl-left", "dl-0", "AGENT")
	left.IdleAt = due
	apply(t, s, &store.Change{NewParticipants: []store.Participant{left}})
	apply(t, s, &store.Change{Leave: []store.Leave{{ParticipantID: left.ID, At: t0}}})
	ended := contact("dl-ended")
	gone := participant("p-dl-ended", "dl-ended", "CUSTOMER")
	gone.IdleAt = due
	apply(t, s, &store.Change{NewContact: ended, NewParticipants: []store.Participant{gone}})
	apply(t, s, &store.Change{End: &store.End{ContactID: "dl-ended", At: t0, Reason: "API"}})
	// Nor is the connect-by of a chat whose customer connected.
	subscribed := contact("dl-subscribed")
	subscribed.ConnectBy = due
	apply(t, s, &store.Change{NewContact: subscribed, NewParticipants: []store.Participant{participant("p-dl-subscribed", "dl-subscribed", "CUSTOMER")}})
	apply(t, s, &store.Change{RequireActive: "dl-subscribed", Subscribed: "dl-subscribed"})
	k, err := s.Contact(ctx, "dl-subscribed")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "connect-by once subscribed", k.ConnectBy, time.Time{})
	if k, err = s.Contact(ctx, "dl-4"); err != nil {
		t.Fatal(err)
	}
	equal(t, "connect-by", k.ConnectBy, due)
	wantErr(t, s, &store.Change{End: &store.End{ContactID: "dl-subscribed", At: t0, Reason: "NOT_CONNECTED", OnlyNotConnected: true}}, store.ErrConflict)

	p, err := s.Participant(ctx, "p-dl-2")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "idle participant", [3]any{p.Idle, p.IdleAt, p.DisconnectAt}, [3]any{true, time.Time{}, due})

	// Concurrent sweepers, in small batches, until none finds more.
	claimDue := func(at time.Time, due map[key]time.Time) map[key]int {
		var mu sync.Mutex
		got := map[key]int{}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				// Bounded: a backend that returns claimed rows again would
				// otherwise keep its sweepers busy for ever.
				for range 100 {
					ds, err := ss[i%len(ss)].ClaimDue(ctx, at, time.Minute, 2)
					if err != nil {
						t.Error(err)
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						k := key{d.Kind, d.ContactID, d.ParticipantID}
						got[k]++
						if w, ok := due[k]; !ok || !d.At.Equal(w) {
							t.Errorf("claimed %+v, not due", d)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}
	claim := func(at time.Time) map[key]int { return claimDue(at, want) }
	check := func(what string, got map[key]int) {
		t.Helper()
		for k := range want {
			if got[k] != 1 {
				t.Errorf("%s: %v claimed %d times, want once", what, k, got[k])
			}
		}
	}
	check("first sweep", claim(now))
	if got := claim(now.Add(30 * time.Second)); len(got) != 0 {
		t.Errorf("claimed again within the lease: %v", got)
	}
	check("after the lease", claim(now.Add(61*time.Second)))

	// Sweepers racing to apply the same deadlines: each effect once.
	at := now.Add(61 * time.Second)
	for k := range want {
		item := store.Item{ID: "fx-" + k.kind + "-" + k.contact, ContactID: k.contact, ParticipantID: k.participant,
			Type: "EVENT", ContentType: "effect/" + k.kind, Role: "SYSTEM", InTranscript: true}
		var change func(int) *store.Change
		var refused error
		switch k.kind {
		case store.DueExpiry:
			refused = store.ErrEnded
			change = func(i int) *store.Change {
				it := item
				it.ID = fmt.Sprintf("%s-%d", item.ID, i)
				return &store.Change{Items: []store.Item{it}, End: &store.End{ContactID: k.contact, At: at, Reason: "EXPIRED"}}
			}
		case store.DueConnectBy:
			refused = store.ErrEnded
			change = func(i int) *store.Change {
				it := item
				it.ID = fmt.Sprintf("%s-%d", item.ID, i)
				return &store.Change{Items: []store.Item{it},
					End: &store.End{ContactID: k.contact, At: at, Reason: "NOT_CONNECTED", OnlyNotConnected: true}}
			}
		case store.DueIdle:
			refused = store.ErrConflict
			change = func(i int) *store.Change {
				it := item
				it.ID = fmt.Sprintf("%s-%d", item.ID, i)
				return &store.Change{RequireActive: k.contact, Items: []store.Item{it}, Clocks: []store.Clock{{
					ParticipantID: k.participant, Idle: true, DisconnectAt: later,
					Conditional: true, IfIdleAt: due}}}
			}
		case store.DueDisconnect:
			refused = store.ErrConflict
			change = func(i int) *store.Change {
				it := item
				it.ID = fmt.Sprintf("%s-%d", item.ID, i)
				return &store.Change{RequireActive: k.contact, Items: []store.Item{it},
					Leave:  []store.Leave{{ParticipantID: k.participant, At: at}},
					Clocks: []store.Clock{{ParticipantID: k.participant, Conditional: true, IfDisconnectAt: due}}}
			}
		}
		if n := succeeded(t, race(ss, 6, change), refused); n != 1 {
			t.Errorf("%v applied %d times, want once", k, n)
		}
		items, err := s.Transcript(ctx, k.contact, 0, true, 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if strings.HasPrefix(it.ID, item.ID) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v: %d effect items in the transcript, want 1", k, n)
		}
	}
	// Applied, nothing is due any more, even once the claims' leases ran out.
	if got := claim(now.Add(10 * time.Minute)); len(got) != 0 {
		t.Errorf("claimed after being applied: %v", got)
	}
	p, err = s.Participant(ctx, "p-dl-1")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "participant after idle", [3]any{p.Idle, p.IdleAt, p.DisconnectAt}, [3]any{true, time.Time{}, later})
	// The disconnect deadlines set by the idle effect are claimed when due,
	// with the idle deadlines not due before.
	next := map[key]time.Time{}
	for i := range 15 {
		id := fmt.Sprintf("dl-%d", i)
		switch i % 5 {
		case 1:
			next[key{store.DueDisconnect, id, "p-" + id}] = later
		case 3:
			next[key{store.DueIdle, id, "p-" + id}] = later
			next[key{store.DueConnectBy, id, ""}] = later
		}
	}
	got := claimDue(later, next)
	for k := range next {
		if got[k] != 1 {
			t.Errorf("at the new deadlines: %v claimed %d times, want once", k, got[k])
		}
	}
	// An unconditional Clock (a message resetting the timers) releases the
	// claim and sets new deadlines.
	apply(t, s, &store.Change{Clocks: []store.Clock{{ParticipantID: "p-dl-1", IdleAt: later}}})
	if got := claimDue(later, map[key]time.Time{{store.DueIdle, "dl-1", "p-dl-1"}: later}); len(got) != 1 {
		t.Errorf("after a reset: %v, want p-dl-1's idle deadline", got)
	}
}

// testFileChecks: an attachment check is a job with a lease. The process
// moving a file to IN_PROGRESS holds it; once the lease runs out,
// concurrent sweepers claim it exactly once, again after each lease, and
// never once it has its verdict.
func testFileChecks(t *testing.T, b Backend) {
	ss := stores(t, b, 4)
	s := ss[0]
	newChat(t, s, "fc")
	lease := t0.Add(time.Minute)
	for i := range 6 {
		f := store.File{ID: fmt.Sprintf("fc-%d", i), ContactID: "fc", ParticipantID: "p-fc", Name: "a.txt", ContentType: "text/plain",
			Size: 1, State: store.FileUploaded, CreatedAt: t0}
		apply(t, s, &store.Change{NewFile: &f})
		apply(t, s, &store.Change{FileUpdates: []store.FileUpdate{{ID: f.ID, From: store.FileUploaded, To: store.FileInProgress,
			At: t0, LeaseUntil: lease}}})
	}
	claim := func(at time.Time) map[string]int {
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 100 {
					fs, err := ss[i%len(ss)].ClaimFiles(ctx, at, time.Minute, 2)
					if err != nil {
						t.Error(err)
						return
					}
					if len(fs) == 0 {
						return
					}
					mu.Lock()
					for _, f := range fs {
						got[f.ID]++
						if f.State != store.FileInProgress || f.ContactID != "fc" {
							t.Errorf("claimed %+v", f)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}
	if got := claim(lease.Add(-time.Second)); len(got) != 0 {
		t.Errorf("checks claimed while their first lease held: %v", got)
	}
	once := func(what string, got map[string]int) {
		t.Helper()
		if len(got) != 6 {
			t.Errorf("%s: %d checks claimed, want 6", what, len(got))
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("%s: %s claimed %d times", what, id, n)
			}
		}
	}
	once("after the first lease", claim(lease))
	if got := claim(lease.Add(30 * time.Second)); len(got) != 0 {
		t.Errorf("claimed again within the lease: %v", got)
	}
	once("after the second lease", claim(lease.Add(time.Minute)))
	// A verdict is recorded once, however many sweepers judged the file.
	errs := race(ss, 6, func(int) *store.Change {
		return &store.Change{FileUpdates: []store.FileUpdate{{ID: "fc-0", From: store.FileInProgress, To: store.FileApproved, At: lease}}}
	})
	if n := succeeded(t, errs, store.ErrConflict); n != 1 {
		t.Errorf("verdict recorded %d times, want once", n)
	}
	got := claim(lease.Add(time.Hour))
	if len(got) != 5 || got["fc-0"] != 0 {
		t.Errorf("after a verdict: claimed %v, want the 5 other files", got)
	}
}
