package chat

import (
	"context"
	"testing"
	"time"
)

// TestDisconnectRetryRacingTheFirstAnswersAsTheFirst: a retry of
// DisconnectParticipant with the same ClientToken, authenticated while the
// first was still committing (its session says joined), answers as the
// first did, success, rather than the "participant has left" refusal that
// the first attempt's commit causes.
func TestDisconnectRetryRacingTheFirstAnswersAsTheFirst(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, openStore(t, t.TempDir()), &clock{t: time.Now()})
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	bot, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Connect(ctx, bot.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	first, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	retry, err := svc.Authenticate(ctx, conn.ConnectionToken) // before the first commits
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Disconnect(ctx, first, "bye-1"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Disconnect(ctx, retry, "bye-1"); err != nil {
		t.Errorf("the racing retry of a Disconnect that succeeded: %v, want success", err)
	}
	// Without the token it is new work, refused.
	if err := svc.Disconnect(ctx, retry, ""); err == nil {
		t.Error("a second Disconnect without a ClientToken succeeded")
	}
}
