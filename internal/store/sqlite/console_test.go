package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TestConsoleStore: agent status, canned responses, contacts by attribute
// and the search over an agent's messages.
func TestConsoleStore(t *testing.T) {
	ctx := context.Background()
	db := open(t, nil)
	now := time.Now()
	if _, err := db.Apply(ctx, &store.Change{NewAgent: &store.Agent{ID: "a1", Name: "Grace", KeyHash: "k1", CreatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	a, err := db.AgentByKey(ctx, "k1")
	if err != nil || a.Status == store.AgentAway {
		t.Fatalf("a new agent: %+v, %v; want it available", a, err)
	}
	if _, err := db.Apply(ctx, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "a1", Status: store.AgentAway}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.AgentByKey(ctx, "k1"); a.Status != store.AgentAway {
		t.Errorf("status = %q, want AWAY", a.Status)
	}
	if as, _ := db.Agents(ctx); len(as) != 1 || as[0].Status != store.AgentAway {
		t.Errorf("Agents = %+v", as)
	}
	if _, err := db.Apply(ctx, &store.Change{AgentStatus: &store.AgentStatus{AgentID: "nobody", Status: store.AgentAway}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown agent's status: %v, want ErrNotFound", err)
	}

	canned := func(id, instance, shortcut string) error {
		_, err := db.Apply(ctx, &store.Change{NewCanned: &store.Canned{ID: id, InstanceID: instance, Shortcut: shortcut, Text: "text " + id, CreatedAt: now}})
		return err
	}
	for _, c := range [][3]string{{"c1", "i", "thanks"}, {"c2", "i", "hello"}, {"c3", "other", "thanks"}} {
		if err := canned(c[0], c[1], c[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := canned("c4", "i", "thanks"); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("a taken shortcut: %v, want ErrDuplicate", err)
	}
	list, err := db.CannedResponses(ctx, "i")
	if err != nil || len(list) != 2 || list[0].Shortcut != "hello" || list[1].Text != "text c1" {
		t.Fatalf("CannedResponses = %+v, %v", list, err)
	}
	if _, err := db.Apply(ctx, &store.Change{RemoveCanned: &store.CannedKey{InstanceID: "other", ID: "c1"}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removing another instance's response: %v, want ErrNotFound", err)
	}
	if _, err := db.Apply(ctx, &store.Change{RemoveCanned: &store.CannedKey{InstanceID: "i", ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.CannedResponses(ctx, "i"); len(list) != 1 {
		t.Errorf("after removing: %+v", list)
	}

	// Two chats of customer 42, one of 7; the agent was in the first.
	for _, id := range []string{"k1", "k2", "k3"} {
		newContact(t, db, id)
		cust := map[string]string{"k1": "42", "k2": "42", "k3": "7"}[id]
		if _, err := db.Apply(ctx, &store.Change{Attributes: &store.MergeAttributes{ContactID: id, Set: map[string]string{"CustomerId": cust}, MaxBytes: 1000}}); err != nil {
			t.Fatal(err)
		}
	}
	newContact(t, db, "k4") // no attributes at all
	cs, err := db.ContactsWithAttribute(ctx, "CustomerId", "42", 10)
	if err != nil || len(cs) != 2 {
		t.Fatalf("ContactsWithAttribute = %d contacts, %v", len(cs), err)
	}
	if cs, _ := db.ContactsWithAttribute(ctx, "CustomerId", "42", 1); len(cs) != 1 {
		t.Errorf("the limit: %d", len(cs))
	}
	ps := []store.Participant{
		{ID: "cu1", ContactID: "k1", Role: "CUSTOMER", DisplayName: "Ada", TokenHash: "t1", State: store.ParticipantJoined, JoinedAt: now},
		{ID: "ag1", ContactID: "k1", Role: "AGENT", DisplayName: "Grace", TokenHash: "t2", State: store.ParticipantJoined, JoinedAt: now, AgentID: "a1"},
		{ID: "cu3", ContactID: "k3", Role: "CUSTOMER", DisplayName: "Bo", TokenHash: "t3", State: store.ParticipantJoined, JoinedAt: now},
	}
	msg := func(contact, id, content string) store.Item {
		return store.Item{ID: id, ContactID: contact, ParticipantID: "cu1", Type: "MESSAGE", ContentType: "text/plain", Content: content, InTranscript: true}
	}
	if _, err := db.Apply(ctx, &store.Change{NewParticipants: ps, Items: []store.Item{
		msg("k1", "m1", "My REFUND for order 100% late"), msg("k1", "m2", "hello"), msg("k3", "m3", "refund please"),
	}}); err != nil {
		t.Fatal(err)
	}
	found, err := db.SearchAgentMessages(ctx, "a1", "refund", 10)
	if err != nil || len(found) != 1 || found[0].Item.ID != "m1" || found[0].Customer != "Ada" {
		t.Fatalf("search = %+v, %v; want m1 only (k3 is not the agent's)", found, err)
	}
	if found, _ := db.SearchAgentMessages(ctx, "a1", "100%", 10); len(found) != 1 {
		t.Errorf("a search for a literal %%: %+v", found)
	}
	if found, _ := db.SearchAgentMessages(ctx, "a1", "1_0", 10); len(found) != 0 {
		t.Errorf("_ matched as a wildcard: %+v", found)
	}
}
