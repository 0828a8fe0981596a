package cache

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// openDB opens a store in a new folder, closed at the test's end.
func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestWritesInvalidate(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	c := New(db)
	now := time.Now()
	_, err := c.Apply(ctx, &store.Change{
		NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c", State: store.ContactQueued,
			Attributes: map[string]string{}, ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour)},
		NewParticipants: []store.Participant{{ID: "p", ContactID: "c", Role: "CUSTOMER", DisplayName: "A", TokenHash: "h", State: store.ParticipantJoined, JoinedAt: now}},
		Tokens:          []store.ConnectionToken{{Hash: "t", ParticipantID: "p", Expires: now.Add(time.Hour)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Warm the cache, then change both records.
	c.Contact(ctx, "c")
	c.Participant(ctx, "p")
	if tok, err := c.ConnectionToken(ctx, "t"); err != nil || tok.ParticipantID != "p" {
		t.Fatal(tok, err)
	}
	if _, err := c.Apply(ctx, &store.Change{Leave: []store.Leave{{ParticipantID: "p", At: now}},
		End: &store.End{ContactID: "c", At: now, Reason: "API"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Participant(ctx, "p"); p.State != store.ParticipantLeft {
		t.Errorf("participant after leaving: %s", p.State)
	}
	if k, _ := c.Contact(ctx, "c"); k.State != store.ContactEnded {
		t.Errorf("contact after ending: %s", k.State)
	}
	if _, err := c.Contact(ctx, "nope"); err == nil {
		t.Error("a missing contact was found")
	}
}

// TestSubscribedClearsConnectByInPlace: the customer's first connection
// clears the cached contact's ConnectBy without dropping the contact, and
// without keeping reads in flight meanwhile out of the cache.
func TestSubscribedClearsConnectByInPlace(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	c := New(db)
	now := time.Now().Truncate(time.Millisecond)
	if _, err := c.Apply(ctx, &store.Change{NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c",
		State: store.ContactQueued, Attributes: map[string]string{}, ContentTypes: []string{"text/plain"}, CreatedAt: now,
		Deadline: now.Add(time.Hour), ConnectBy: now.Add(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if k, _ := c.Contact(ctx, "c"); !k.ConnectBy.Equal(now.Add(time.Minute)) {
		t.Fatalf("ConnectBy %v", k.ConnectBy)
	}
	gen := c.gen
	if _, err := c.Apply(ctx, &store.Change{Subscribed: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, cached := c.contacts["c"]; !cached || c.gen != gen {
		t.Errorf("the contact was dropped (%v) or a generation spent (%d → %d)", !cached, gen, c.gen)
	}
	if k, _ := c.Contact(ctx, "c"); !k.ConnectBy.IsZero() {
		t.Errorf("cached ConnectBy after the first connection: %v", k.ConnectBy)
	}
	if k, _ := db.Contact(ctx, "c"); !k.ConnectBy.IsZero() {
		t.Errorf("stored ConnectBy after the first connection: %v", k.ConnectBy)
	}
}

// slowReads lets a test hold a Contact read between the moment it read the
// store and the moment it returns, which is where a write racing it lands.
type slowReads struct {
	store.Store
	read    chan struct{} // a read has its (old) record
	proceed chan struct{} // let it return
}

func (s *slowReads) Contact(ctx context.Context, id string) (store.Contact, error) {
	k, err := s.Store.Contact(ctx, id)
	s.read <- struct{}{}
	<-s.proceed
	return k, err
}

// TestReadRacingAWriteDoesNotRefillTheOldRecord forces the interleaving of
// a StopContact racing a read: the read loads the live contact, the write
// commits and invalidates, then the read returns. The cache must not keep
// the live contact that the read brought back.
func TestReadRacingAWriteDoesNotRefillTheOldRecord(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	slow := &slowReads{Store: db, read: make(chan struct{}), proceed: make(chan struct{})}
	c := New(slow)
	now := time.Now()
	if _, err := c.Apply(ctx, &store.Change{NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c",
		State: store.ContactQueued, Attributes: map[string]string{}, ContentTypes: []string{"text/plain"},
		CreatedAt: now, Deadline: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}

	stale := make(chan store.Contact)
	go func() {
		k, _ := c.Contact(ctx, "c")
		stale <- k
	}()
	<-slow.read // the read has the queued contact
	if _, err := c.Apply(ctx, &store.Change{End: &store.End{ContactID: "c", At: now, Reason: "API"}}); err != nil {
		t.Fatal(err)
	}
	close(slow.proceed)
	if k := <-stale; k.State != store.ContactQueued {
		t.Fatalf("the racing read saw %s; the test did not force the race", k.State)
	}

	go func() {
		for range slow.read { // later reads go straight through
		}
	}()
	defer close(slow.read)
	if k, _ := c.Contact(ctx, "c"); k.State != store.ContactEnded {
		t.Errorf("contact after StopContact: %s, want %s (a read that began before the write refilled the cache)", k.State, store.ContactEnded)
	}
}

// TestSharedSeesOtherWriters: with another process writing the database
// (here: writes that bypass the cache), Shared never serves a stale
// participant or contact.
func TestSharedSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	c := Shared(db)
	now := time.Now()
	if _, err := db.Apply(ctx, &store.Change{
		NewContact: &store.Contact{ID: "c", InstanceID: "i", InitialContactID: "c", State: store.ContactQueued,
			Attributes: map[string]string{}, ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour)},
		NewParticipants: []store.Participant{{ID: "p", ContactID: "c", Role: "CUSTOMER", DisplayName: "A", TokenHash: "h", State: store.ParticipantJoined, JoinedAt: now}},
		Tokens:          []store.ConnectionToken{{Hash: "t", ParticipantID: "p", Expires: now.Add(time.Hour)}},
	}); err != nil {
		t.Fatal(err)
	}
	c.Contact(ctx, "c")
	c.Participant(ctx, "p")
	c.ConnectionToken(ctx, "t")
	if _, err := db.Apply(ctx, &store.Change{Leave: []store.Leave{{ParticipantID: "p", At: now}},
		End: &store.End{ContactID: "c", At: now, Reason: "API"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Participant(ctx, "p"); p.State != store.ParticipantLeft {
		t.Errorf("participant changed elsewhere: %s", p.State)
	}
	if k, _ := c.Contact(ctx, "c"); k.State != store.ContactEnded {
		t.Errorf("contact changed elsewhere: %s", k.State)
	}
	if tok, err := c.ConnectionToken(ctx, "t"); err != nil || tok.ParticipantID != "p" {
		t.Errorf("token: %+v, %v", tok, err)
	}
}

// A shared cache's sessions may be stale, as another process's write
// leaves them; its own writes update or drop them.
func TestCachedSession(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	c := Shared(db)
	now := time.Now()
	newChat := func(id string) {
		t.Helper()
		if _, err := c.Apply(ctx, &store.Change{
			NewContact: &store.Contact{ID: id, InstanceID: "i", InitialContactID: id, State: store.ContactQueued,
				Attributes: map[string]string{}, ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour)},
			NewParticipants: []store.Participant{{ID: "p-" + id, ContactID: id, Role: "CUSTOMER", DisplayName: "A", TokenHash: "h" + id, State: store.ParticipantJoined, JoinedAt: now}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	newChat("c")
	newChat("d")
	session := func(id string, wantCached bool) store.Participant {
		t.Helper()
		p, k, cached, err := c.CachedSession(ctx, id)
		if err != nil || cached != wantCached || k.ID != p.ContactID {
			t.Fatalf("CachedSession(%s): cached %v, contact %q of %q, %v; want cached %v", id, cached, k.ID, p.ContactID, err, wantCached)
		}
		return p
	}
	session("p-c", false)
	session("p-c", true)
	session("p-d", false)

	// Its own clock change is kept; another process's is not seen.
	at := now.Add(time.Minute)
	if _, err := c.Apply(ctx, &store.Change{Clocks: []store.Clock{{ParticipantID: "p-c", IdleAt: at}}}); err != nil {
		t.Fatal(err)
	}
	if p := session("p-c", true); !p.IdleAt.Equal(at) {
		t.Errorf("after its clock change: IdleAt %v, want %v", p.IdleAt, at)
	}
	if _, err := db.Apply(ctx, &store.Change{Leave: []store.Leave{{ParticipantID: "p-c", At: now}}}); err != nil {
		t.Fatal(err)
	}
	if p := session("p-c", true); p.State != store.ParticipantJoined {
		t.Errorf("another process's leave seen: %s", p.State)
	}
	c.DropSession("p-c")
	if p := session("p-c", false); p.State != store.ParticipantLeft {
		t.Errorf("after DropSession: %s, want LEFT", p.State)
	}

	// Its own writes drop what they change: a participant, or a contact.
	if _, err := c.Apply(ctx, &store.Change{End: &store.End{ContactID: "d", At: now, Reason: "API"}}); err != nil {
		t.Fatal(err)
	}
	session("p-d", false)
	session("p-c", true)
	if _, err := c.Apply(ctx, &store.Change{Acknowledge: []string{"p-c"}}); err != nil {
		t.Fatal(err)
	}
	session("p-c", false)

	// An unshared cache's sessions are never stale.
	u := New(db)
	for range 2 {
		if _, _, cached, err := u.CachedSession(ctx, "p-d"); cached || err != nil {
			t.Errorf("unshared CachedSession: cached %v, %v", cached, err)
		}
	}
}
