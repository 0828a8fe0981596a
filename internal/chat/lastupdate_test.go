package chat

import (
	"context"
	"testing"
	"time"
)

// TestLastUpdateFollowsTransfersAndAssociations: a transfer back to the
// queue and a persistent chat association change the contact, so
// DescribeContact's LastUpdateTimestamp (store.Contact.LastUpdate) moves to
// them; a transfer, which clears the agent's connection time, never takes
// it back.
func TestLastUpdateFollowsTransfersAndAssociations(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: time.Now().Truncate(time.Millisecond)}
	svc := newService(t, st, clk)
	lastUpdate := func(id string) time.Time {
		t.Helper()
		k, _, err := svc.Contact(ctx, "i", id)
		if err != nil {
			t.Fatal(err)
		}
		return k.LastUpdate()
	}

	key, err := svc.AddAgent(ctx, "Grace")
	if err != nil {
		t.Fatal(err)
	}
	grace, err := svc.AuthenticateAgent(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := svc.Accept(ctx, grace, chat.ContactID); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if err := svc.Transfer(ctx, grace, chat.ContactID, ""); err != nil {
		t.Fatal(err)
	}
	if got := lastUpdate(chat.ContactID); !got.Equal(clk.Now()) {
		t.Errorf("LastUpdate after a transfer to the queue: %v, want the transfer's time %v", got, clk.Now())
	}

	past, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.StopContact(ctx, "i", past.ContactID); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := svc.Persist(ctx, "i", chat.ContactID, Persistence{RehydrationType: RehydrationSegment, SourceContactID: past.ContactID}, ""); err != nil {
		t.Fatal(err)
	}
	if got := lastUpdate(chat.ContactID); !got.Equal(clk.Now()) {
		t.Errorf("LastUpdate after a persistent chat association: %v, want its time %v", got, clk.Now())
	}
}
