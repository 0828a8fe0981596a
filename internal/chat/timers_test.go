package chat

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/cache"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// published collects what the store commits, as the broker would see it.
type published struct {
	mu    sync.Mutex
	items []store.Item
}

func (p *published) hook(items []store.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = append(p.items, items...)
}

func (p *published) contentTypes(participantID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, it := range p.items {
		if it.ParticipantID == participantID || (participantID == "" && it.ParticipantID == "") {
			out = append(out, it.ContentType)
		}
	}
	return out
}

// storeWraps are the stores a service may run on: the store itself, behind
// the server's cache (which must forget a participant whose clock
// changed), and behind a shared one.
var storeWraps = []struct {
	name string
	wrap func(store.Store) store.Store
}{
	{"store", func(s store.Store) store.Store { return s }},
	{"cache", func(s store.Store) store.Store { return cache.New(s) }},
	{"shared cache", func(s store.Store) store.Store { return cache.Shared(s) }},
}

// timedChat starts a chat on a new store, wrapped by wrap unless it is
// nil, served by a service whose sweeper the test runs on clk.
func timedChat(t *testing.T, wrap func(store.Store) store.Store) (*Service, *published, *clock, StartChatOutput) {
	t.Helper()
	pub := &published{}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var s store.Store = st
	if wrap != nil {
		s = wrap(st)
	}
	clk := &clock{t: time.Now()}
	svc := newTimedService(t, s, clk)
	chat, err := svc.StartChat(context.Background(), StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, pub, clk, chat
}

// newTimedService is a service whose sweeper the test runs by hand, on clk.
func newTimedService(t *testing.T, st store.Store, clk *clock) *Service {
	t.Helper()
	svc := New(Config{InstanceID: "i", QueueID: "q", Now: clk.Now, SweepInterval: -1, WebsocketURL: func(string) string { return "" }},
		st, secret.Key{1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	return svc
}

func (p *published) count(participantID, contentType string) int {
	n := 0
	for _, ct := range p.contentTypes(participantID) {
		if ct == contentType {
			n++
		}
	}
	return n
}

// The timers run the same on the store, behind the server's cache (which
// must forget a participant whose clock changed), and behind a shared one.
func TestIdleReturnedAndAutoDisconnect(t *testing.T) {
	for _, tc := range storeWraps {
		t.Run(tc.name, func(t *testing.T) { testIdleReturnedAndAutoDisconnect(t, tc.wrap) })
	}
}

func testIdleReturnedAndAutoDisconnect(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, wrap)
	// Set before the agent joins: set while an agent is with the customer,
	// they would wait for the next agent (TestTimersUpdatedWithAnAgent).
	err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{
		{Role: RoleCustomer, Type: TimerIdle, Minutes: 5},
		{Role: RoleCustomer, Type: TimerDisconnect, Minutes: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleAgent, Type: TimerIdle, Minutes: 2}, {Role: RoleAgent, Type: TimerIdle, Minutes: 3}}); KindOf(err) != Invalid {
		t.Errorf("a duplicate timer: %v, want Invalid", err)
	}

	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	cust := chat.ParticipantID

	clk.Add(5*time.Minute - time.Second)
	svc.sweep(ctx)
	if n := pub.count(cust, EventParticipantIdle); n != 0 {
		t.Fatalf("idle %d times a second before the idle timeout", n)
	}
	clk.Add(time.Second)
	svc.sweep(ctx)
	svc.sweep(ctx) // a second sweep finds nothing more to do
	if n, m := pub.count(cust, EventParticipantIdle), pub.count(agent.ParticipantID, EventParticipantIdle); n != 1 || m != 0 {
		t.Fatalf("idle events: customer %d, agent %d; want the customer's once", n, m)
	}
	sess, _ = svc.Authenticate(ctx, conn.ConnectionToken)
	if _, err := svc.SendMessage(ctx, sess, ContentPlain, "still here", ""); err != nil {
		t.Fatal(err)
	}
	// The disconnect deadline of the first idle spell went with returning.
	clk.Add(3 * time.Minute)
	svc.sweep(ctx)
	if n := pub.count(cust, EventParticipantAutoDisconnection); n != 0 {
		t.Errorf("%d auto-disconnections after the customer returned", n)
	}
	clk.Add(2 * time.Minute) // 5 minutes after the message
	svc.sweep(ctx)
	clk.Add(3 * time.Minute)
	svc.sweep(ctx)
	svc.sweep(ctx)

	// The customer's auto-disconnect timer disconnects the agent "due to
	// customer idleness" (admin guide), not the customer.
	want := []string{EventParticipantJoined, EventParticipantIdle, EventParticipantReturned, ContentPlain,
		EventParticipantIdle, EventParticipantAutoDisconnection}
	if got := pub.contentTypes(cust); !slices.Equal(got, want) {
		t.Fatalf("customer's items %v, want %v", got, want)
	}
	if got := pub.contentTypes(agent.ParticipantID); !slices.Equal(got, []string{EventParticipantJoined, EventParticipantLeft}) {
		t.Fatalf("agent's items %v, want joined and left", got)
	}
	c, _, _ := svc.Contact(ctx, "i", chat.ContactID)
	if c.State != store.ContactEnded || c.DisconnectReason != ReasonAgent {
		t.Errorf("after the customer's auto-disconnect timer: %s %s, want ENDED %s", c.State, c.DisconnectReason, ReasonAgent)
	}
	if p, _ := svc.store.Participant(ctx, cust); p.State != store.ParticipantJoined {
		t.Errorf("the customer is %s after their auto-disconnect timer, want still JOINED", p.State)
	}
	if items, _ := svc.store.Transcript(ctx, chat.ContactID, 0, true, 100); len(items) != 5 { // 2 joined, message, agent left, ended
		t.Errorf("transcript has %d items; idle and returned events are live-only", len(items))
	}
}

// An idle deadline is data: set before a restart, it fires after it, at the
// time it was set for, once.
func TestIdleTimerSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pub := &published{}
	st, err := sqlite.Open(filepath.Join(dir, "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	svc := newTimedService(t, st, clk)
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleCustomer, Type: TimerIdle, Minutes: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	clk.Add(3 * time.Minute)
	svc.Close()
	st.Close()

	st, err = sqlite.Open(filepath.Join(dir, "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Two services on the store: two processes sweeping at once.
	a, b := newTimedService(t, st, clk), newTimedService(t, st, clk)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Add(2*time.Minute - time.Second)
	a.sweep(ctx)
	b.sweep(ctx)
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 0 {
		t.Fatalf("idle %d times before the timeout set before the restart", n)
	}
	clk.Add(time.Second)
	var wg sync.WaitGroup
	for _, svc := range []*Service{a, b, a, b} {
		wg.Go(func() { svc.sweep(ctx) })
	}
	wg.Wait()
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 1 {
		t.Fatalf("idle %d times at the timeout set before the restart, want once", n)
	}
}

// A deadline this process has just set, due before the sweeper's next tick,
// wakes the sweeper: it is applied on time, not a tick late.
func TestSweeperWakesForANearDeadline(t *testing.T) {
	ctx := context.Background()
	pub := &published{}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := New(Config{InstanceID: "i", QueueID: "q", SweepInterval: time.Hour, WebsocketURL: func(string) string { return "" }},
		st, secret.Key{1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the first sweep, at start, is over: the next tick is an hour away
	at := time.Now().Add(200 * time.Millisecond)
	if _, err := st.Apply(ctx, &store.Change{Clocks: []store.Clock{{ParticipantID: chat.ParticipantID, IdleAt: at}}}); err != nil {
		t.Fatal(err)
	}
	svc.wake(at)
	for deadline := time.Now().Add(5 * time.Second); pub.count(chat.ParticipantID, EventParticipantIdle) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the near idle deadline was not applied before the sweeper's next tick")
		}
	}
	if now := time.Now(); now.Before(at) {
		t.Errorf("idle %v before its deadline", at.Sub(now))
	}
}

// TestAutoDisconnectTimerAlone: a role with an auto-disconnect timer and
// no idle timer is disconnected that long after its last message, as the
// admin guide has it: "If only one type of timer is configured for a role,
// that timer starts immediately."
func TestAutoDisconnectTimerAlone(t *testing.T) {
	t.Run("set before the agent joins", func(t *testing.T) { testAutoDisconnectTimerAlone(t, true) })
	// Set while a custom bot is with the customer, it waits for the next
	// agent or custom participant: the agent who takes over from the bot.
	t.Run("set while a bot is in the chat", func(t *testing.T) { testAutoDisconnectTimerAlone(t, false) })
}

func testAutoDisconnectTimerAlone(t *testing.T, setFirst bool) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, nil)
	set := func() {
		t.Helper()
		if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleAgent, Type: TimerDisconnect, Minutes: 3}}); err != nil {
			t.Fatal(err)
		}
	}
	if !setFirst {
		if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", ""); err != nil {
			t.Fatal(err)
		}
	}
	set()
	agent, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Connect(ctx, agent.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, sess, ContentPlain, "one moment", ""); err != nil {
		t.Fatal(err)
	}
	clk.Add(3*time.Minute - time.Second) // the message restarted the timer
	svc.sweep(ctx)
	if n := pub.count(agent.ParticipantID, EventParticipantAutoDisconnection); n != 0 {
		t.Fatalf("auto-disconnected %d times before the timeout after the message", n)
	}
	clk.Add(time.Second)
	svc.sweep(ctx)
	svc.sweep(ctx)
	if n, idle := pub.count(agent.ParticipantID, EventParticipantAutoDisconnection), pub.count(agent.ParticipantID, EventParticipantIdle); n != 1 || idle != 0 {
		t.Fatalf("auto-disconnections %d, idle events %d; want one auto-disconnection and no idle event", n, idle)
	}
	if p, _ := svc.store.Participant(ctx, agent.ParticipantID); p.State != store.ParticipantLeft {
		t.Errorf("the agent is %s after the auto-disconnect timer, want LEFT", p.State)
	}
}

// TestTimersRunWithAnAgentOrBot: the timers run only while the customer
// and an agent or a custom bot are both in the chat (admin guide, Set up
// chat timeouts): a customer waiting in the queue is never idle nor
// disconnected for it; the first agent or bot to join starts the
// customer's timers, and the last to leave stops them.
func TestTimersRunWithAnAgentOrBot(t *testing.T) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, nil)
	cust := chat.ParticipantID
	// Set in the flow, before the chat is queued, as Connect's flows do.
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{
		{Role: RoleCustomer, Type: TimerIdle, Minutes: 2},
		{Role: RoleCustomer, Type: TimerDisconnect, Minutes: 2},
	}); err != nil {
		t.Fatal(err)
	}
	wait := func(d time.Duration) {
		clk.Add(d)
		svc.sweep(ctx)
		svc.sweep(ctx)
	}
	// A message of the customer's in the queue starts no timer either.
	custConn, err := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	custSess, err := svc.Authenticate(ctx, custConn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, custSess, ContentPlain, "anyone there?", ""); err != nil {
		t.Fatal(err)
	}
	wait(30 * time.Minute)
	if n := pub.count(cust, EventParticipantIdle) + pub.count(cust, EventParticipantAutoDisconnection); n != 0 {
		t.Fatalf("%d idle or auto-disconnect events for a customer alone in the queue", n)
	}

	// A custom bot joins: the customer's timers start.
	bot, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", "")
	if err != nil {
		t.Fatal(err)
	}
	wait(2 * time.Minute)
	if n := pub.count(cust, EventParticipantIdle); n != 1 {
		t.Fatalf("customer idle %d times 2 minutes after the bot joined, want once", n)
	}
	// The bot leaves: they stop.
	conn, err := svc.Connect(ctx, bot.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Disconnect(ctx, sess, ""); err != nil {
		t.Fatal(err)
	}
	wait(30 * time.Minute)
	if n := pub.count(cust, EventParticipantAutoDisconnection); n != 0 {
		t.Fatalf("customer auto-disconnected %d times after the bot left", n)
	}

	// An agent joins: they start again.
	key, err := svc.AddAgent(ctx, "Grace")
	if err != nil {
		t.Fatal(err)
	}
	grace, err := svc.AuthenticateAgent(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Accept(ctx, grace, chat.ContactID); err != nil {
		t.Fatal(err)
	}
	wait(2*time.Minute - time.Second)
	if n := pub.count(cust, EventParticipantIdle); n != 1 {
		t.Fatalf("customer idle %d times in all before the timeout after the agent joined, want once", n)
	}
	wait(time.Second)
	if n := pub.count(cust, EventParticipantIdle); n != 2 {
		t.Fatalf("customer idle %d times in all at the timeout after the agent joined, want twice", n)
	}
	// The agent transfers the chat back to the queue: they stop.
	if err := svc.Transfer(ctx, grace, chat.ContactID, ""); err != nil {
		t.Fatal(err)
	}
	if custSess, err = svc.Authenticate(ctx, custConn.ConnectionToken); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, custSess, ContentPlain, "hello again?", ""); err != nil {
		t.Fatal(err)
	}
	wait(30 * time.Minute)
	if n := pub.count(cust, EventParticipantAutoDisconnection); n != 0 {
		t.Fatalf("customer auto-disconnected %d times waiting in the queue after a transfer", n)
	}
	if k, _, _ := svc.Contact(ctx, "i", chat.ContactID); k.State != store.ContactQueued {
		t.Errorf("the transferred chat is %s, want QUEUED", k.State)
	}
}

// TestCustomerTimerDisconnectsTheBot: the customer's auto-disconnect timer
// disconnects the participants other than the customer, a custom bot too;
// the customer stays, and with no agent the chat goes on.
func TestCustomerTimerDisconnectsTheBot(t *testing.T) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, nil)
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleCustomer, Type: TimerDisconnect, Minutes: 2}}); err != nil {
		t.Fatal(err)
	}
	bot, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", "")
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	svc.sweep(ctx)
	svc.sweep(ctx)
	if n := pub.count(chat.ParticipantID, EventParticipantAutoDisconnection); n != 1 {
		t.Fatalf("%d auto-disconnection events for the customer, want 1", n)
	}
	if p, _ := svc.store.Participant(ctx, bot.ParticipantID); p.State != store.ParticipantLeft {
		t.Errorf("the bot is %s after the customer's auto-disconnect timer, want LEFT", p.State)
	}
	if p, _ := svc.store.Participant(ctx, chat.ParticipantID); p.State != store.ParticipantJoined || !p.DisconnectAt.IsZero() {
		t.Errorf("the customer is %s (disconnect at %v), want JOINED with no timer running", p.State, p.DisconnectAt)
	}
	if k, _, _ := svc.Contact(ctx, "i", chat.ContactID); k.State == store.ContactEnded {
		t.Errorf("the chat ended (%s) when the bot was disconnected", k.DisconnectReason)
	}
}

// TestTimersUpdatedWithAnAgent: "If you update the timer configuration
// while an agent/custom participant and customer are already connected to
// each other, the new configuration is stored but not applied until and
// unless a new agent/custom participant connects to the chat" (admin
// guide, Set up chat timeouts): the agent keeps the configuration they
// joined under, and the next agent, after a transfer, takes the new one.
// An update while no agent is in the chat applies at once, on top of the
// pending one.
func TestTimersUpdatedWithAnAgent(t *testing.T) {
	for _, tc := range storeWraps {
		t.Run(tc.name, func(t *testing.T) { testTimersUpdatedWithAnAgent(t, tc.wrap) })
	}
}

func testTimersUpdatedWithAnAgent(t *testing.T, wrap func(store.Store) store.Store) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, wrap)
	cust := chat.ParticipantID
	update := func(u ...TimerUpdate) {
		t.Helper()
		if err := svc.UpdateTimers(ctx, "i", chat.ContactID, u); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(d time.Duration) {
		clk.Add(d)
		svc.sweep(ctx)
		svc.sweep(ctx)
	}
	agent := func(name string) (store.Agent, string) {
		t.Helper()
		key, err := svc.AddAgent(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		a, err := svc.AuthenticateAgent(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		out, err := svc.Accept(ctx, a, chat.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		return a, out.ParticipantID
	}
	timers := func() (applied, pending map[string]store.ParticipantTimers) {
		t.Helper()
		c, _, err := svc.Contact(ctx, "i", chat.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Timers, c.PendingTimers
	}

	update(TimerUpdate{Role: RoleCustomer, Type: TimerIdle, Minutes: 5})
	grace, graceID := agent("Grace")
	// With Grace and the customer connected: stored, not applied.
	update(TimerUpdate{Role: RoleCustomer, Type: TimerIdle, Minutes: 2}, TimerUpdate{Role: RoleAgent, Type: TimerIdle, Minutes: 2})
	if applied, pending := timers(); applied[RoleCustomer].IdleMinutes != 5 || applied[RoleAgent].IdleMinutes != 0 ||
		pending[RoleCustomer].IdleMinutes != 2 || pending[RoleAgent].IdleMinutes != 2 {
		t.Fatalf("timers %v, pending %v; want customer idle 5 applied, customer and agent idle 2 pending", applied, pending)
	}
	wait(4*time.Minute + 59*time.Second)
	if n, m := pub.count(cust, EventParticipantIdle), pub.count(graceID, EventParticipantIdle); n != 0 || m != 0 {
		t.Fatalf("idle events: customer %d, Grace %d before the timeout Grace joined under; want none", n, m)
	}
	wait(time.Second)
	if n, m := pub.count(cust, EventParticipantIdle), pub.count(graceID, EventParticipantIdle); n != 1 || m != 0 {
		t.Fatalf("idle events: customer %d, Grace %d at the customer's timeout Grace joined under; want the customer's once", n, m)
	}

	// Grace transfers the chat back to the queue; meanwhile an update
	// applies at once, on top of the pending configuration.
	if err := svc.Transfer(ctx, grace, chat.ContactID, ""); err != nil {
		t.Fatal(err)
	}
	update(TimerUpdate{Role: RoleCustomer, Type: TimerDisconnect, Minutes: 3})
	want := map[string]store.ParticipantTimers{RoleCustomer: {IdleMinutes: 2, DisconnectMinutes: 3}, RoleAgent: {IdleMinutes: 2}}
	if applied, pending := timers(); !maps.Equal(applied, want) || pending != nil {
		t.Fatalf("with no agent in the chat: timers %v, pending %v; want %v applied, none pending", applied, pending, want)
	}
	// Linus, the next agent, runs under the new configuration.
	_, linusID := agent("Linus")
	wait(2*time.Minute - time.Second)
	if n, m := pub.count(cust, EventParticipantIdle), pub.count(linusID, EventParticipantIdle); n != 1 || m != 0 {
		t.Fatalf("idle events: customer %d in all, Linus %d before the new timeout", n, m)
	}
	wait(time.Second)
	if n, m := pub.count(cust, EventParticipantIdle), pub.count(linusID, EventParticipantIdle); n != 2 || m != 1 {
		t.Fatalf("idle events: customer %d in all, Linus %d at the new timeout; want 2 and 1", n, m)
	}
	wait(3 * time.Minute)
	if n := pub.count(cust, EventParticipantAutoDisconnection); n != 1 {
		t.Fatalf("%d auto-disconnections 3 minutes after the customer became idle, want 1", n)
	}
}

// TestTimersPendingAppliedByTheNextAgent: a configuration left pending by
// an update while Grace was in the chat is applied when the next agent
// joins after a transfer, not before: the customer waiting in the queue in
// between keeps no clock, and the contact keeps it pending.
func TestTimersPendingAppliedByTheNextAgent(t *testing.T) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, nil)
	key, _ := svc.AddAgent(ctx, "Grace")
	grace, err := svc.AuthenticateAgent(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Accept(ctx, grace, chat.ContactID); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleCustomer, Type: TimerIdle, Minutes: 2}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Minute)
	svc.sweep(ctx)
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 0 {
		t.Fatalf("customer idle %d times under a configuration set after Grace joined", n)
	}
	if err := svc.Transfer(ctx, grace, chat.ContactID, ""); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := svc.Contact(ctx, "i", chat.ContactID); c.PendingTimers[RoleCustomer].IdleMinutes != 2 || c.Timers[RoleCustomer].IdleMinutes != 0 {
		t.Fatalf("in the queue after the transfer: timers %v, pending %v; want still pending", c.Timers, c.PendingTimers)
	}
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Linus", ""); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := svc.Contact(ctx, "i", chat.ContactID); c.PendingTimers != nil || c.Timers[RoleCustomer].IdleMinutes != 2 {
		t.Fatalf("after the next agent joined: timers %v, pending %v; want applied", c.Timers, c.PendingTimers)
	}
	clk.Add(2 * time.Minute)
	svc.sweep(ctx)
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 1 {
		t.Fatalf("customer idle %d times 2 minutes after the next agent joined, want once", n)
	}
}

// TestTimersRestartWhenAnAgentTakesOverFromTheBot: an agent joining
// disconnects the custom bot, which stops the customer's timers ("they
// are stopped if the agent/custom participant leaves"), and starts them
// again ("first started when an agent/custom participant joins"): the
// customer's idle timeout runs from the agent's arrival, not the bot's.
func TestTimersRestartWhenAnAgentTakesOverFromTheBot(t *testing.T) {
	ctx := context.Background()
	svc, pub, clk, chat := timedChat(t, nil)
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleCustomer, Type: TimerIdle, Minutes: 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleCustomBot, "Bot", ""); err != nil {
		t.Fatal(err)
	}
	wait := func(d time.Duration) {
		clk.Add(d)
		svc.sweep(ctx)
		svc.sweep(ctx)
	}
	wait(90 * time.Second)
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	wait(time.Minute)
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 0 {
		t.Fatalf("customer idle %d times a minute after the agent took over from the bot, want none", n)
	}
	wait(time.Minute)
	if n := pub.count(chat.ParticipantID, EventParticipantIdle); n != 1 {
		t.Fatalf("customer idle %d times 2 minutes after the agent took over from the bot, want once", n)
	}
}
