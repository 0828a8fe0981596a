package chat

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
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

// raceGate holds the first Apply carrying the idempotency token until a
// second one (its retry, which has passed every read) arrives, then lets
// the first commit before the second runs: two attempts of one request
// racing.
type raceGate struct {
	store.Store
	token         string
	n             atomic.Int32
	second, first chan struct{}
}

func newRaceGate(st store.Store, token string) *raceGate {
	return &raceGate{Store: st, token: token, second: make(chan struct{}), first: make(chan struct{})}
}

func (g *raceGate) Apply(ctx context.Context, ch *store.Change) ([]store.Item, error) {
	if ch.Idempotency == nil || ch.Idempotency.ClientToken != g.token {
		return g.Store.Apply(ctx, ch)
	}
	if g.n.Add(1) == 1 {
		<-g.second
		defer close(g.first)
		return g.Store.Apply(ctx, ch)
	}
	close(g.second)
	<-g.first
	return g.Store.Apply(ctx, ch)
}

// TestAddBotRetryRacingTheFirstAnswersAsTheFirst: two attempts of one
// CreateParticipant (a CUSTOM_BOT) with one ClientToken, at once, get the
// same participant; the later is not refused because the earlier's bot has
// joined.
func TestAddBotRetryRacingTheFirstAnswersAsTheFirst(t *testing.T) {
	ctx := context.Background()
	gate := newRaceGate(openStore(t, t.TempDir()), "bot-1")
	svc := newService(t, gate, &clock{t: time.Now()})
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	var outs [2]AddParticipantOutput
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			outs[i], errs[i] = svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", "bot-1")
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || outs[0].ParticipantID != outs[1].ParticipantID {
		t.Errorf("two attempts of one request: %+v (%v) and %+v (%v), want one participant twice", outs[0], errs[0], outs[1], errs[1])
	}
}
