package chat

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

func TestAttributesOfEndedContactsFor24Months(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: time.Now()}
	svc := newService(t, st, clk)
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", Attributes: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.StopContact(ctx, "i", chat.ContactID); err != nil {
		t.Fatal(err)
	}
	clk.Add(23 * 30 * 24 * time.Hour)
	if err := svc.UpdateAttributes(ctx, "i", chat.ContactID, map[string]string{"b": "2"}); err != nil {
		t.Fatalf("updating an ended contact: %v", err)
	}
	got, err := svc.ContactAttributes(ctx, "i", chat.ContactID)
	if err != nil || got["a"] != "1" || got["b"] != "2" {
		t.Fatalf("attributes = %v, %v", got, err)
	}
	// The merged total is checked against Connect's 32 KB.
	if err := svc.UpdateAttributes(ctx, "i", chat.ContactID, map[string]string{"c": strings.Repeat("x", MaxAttributesBytes-4)}); KindOf(err) != Invalid {
		t.Errorf("over 32 KB with the kept attributes: %v, want Invalid", err)
	}
	clk.Add(2 * 30 * 24 * time.Hour)
	if err := svc.UpdateAttributes(ctx, "i", chat.ContactID, map[string]string{"b": "3"}); KindOf(err) != NotFound {
		t.Errorf("updating a contact 25 months old: %v, want NotFound", err)
	}
}

// TestOneCustomBotEvenAtOnce: the limit holds inside the transaction, so
// bots added at the same moment cannot both join.
func TestOneCustomBotEvenAtOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	svc := newService(t, st, &clock{t: time.Now()})
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined := 0
	for range 8 {
		wg.Go(func() {
			if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", ""); err == nil {
				mu.Lock()
				joined++
				mu.Unlock()
			} else if k := KindOf(err); k != QuotaExceeded && k != Conflict {
				t.Errorf("a refused bot: %v", err)
			}
		})
	}
	wg.Wait()
	if joined != 1 {
		t.Fatalf("%d custom bots joined at once, want 1", joined)
	}
	// An agent joining disconnects it.
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	ps, _ := st.Participants(ctx, chat.ContactID)
	for _, p := range ps {
		if p.Role == RoleCustomBot && p.State != store.ParticipantLeft {
			t.Errorf("the bot is still %s after an agent joined", p.State)
		}
	}
}

// TestRelatedAttributesWithinTheLimit: a chat started in relation to
// another contact (RelatedContactId, or persistent chat) starts with that
// contact's attributes under its own; the merge is held to the 32 KB of a
// contact's attributes, and a refused start creates nothing.
func TestRelatedAttributesWithinTheLimit(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	svc := newService(t, st, &clock{t: time.Now()})
	half := strings.Repeat("x", MaxAttributesBytes/2)
	past, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", Attributes: map[string]string{"a": half}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.StopContact(ctx, "i", past.ContactID); err != nil {
		t.Fatal(err)
	}
	for _, in := range []StartChatInput{
		{RelatedContactID: past.ContactID},
		{Persistent: &Persistence{RehydrationType: RehydrationSegment, SourceContactID: past.ContactID}},
	} {
		in.InstanceID, in.FlowID, in.DisplayName, in.Attributes = "i", "f", "Ada", map[string]string{"b": half}
		if _, err := svc.StartChat(ctx, in); KindOf(err) != Invalid {
			t.Errorf("a start whose attributes and the related contact's total over 32 KB: %v, want Invalid", err)
		}
	}
	if n, err := svc.QueueLength(ctx); err != nil || n != 0 {
		t.Errorf("%d chats wait after the refused starts (%v), want none", n, err)
	}
	// Replacing the related contact's value keeps the total within it.
	if _, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada",
		RelatedContactID: past.ContactID, Attributes: map[string]string{"a": half}}); err != nil {
		t.Errorf("a start that replaces the related contact's attribute: %v", err)
	}
}
