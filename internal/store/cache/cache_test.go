package cache

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

func TestWritesInvalidate(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := New(db)
	now := time.Now()
	_, err = c.Apply(ctx, &store.Change{
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
