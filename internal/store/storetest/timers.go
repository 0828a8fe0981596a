package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/store"
)

// running is what SetTimers.PendingWhile holds for the chat domain: a
// customer, and an agent or a custom bot.
var running = [][]string{{"CUSTOMER"}, {"AGENT", "CUSTOM_BOT"}}

// testPendingTimers checks SetTimers.PendingWhile and PromoteTimers: timers
// set while the roles are joined are stored as pending, decided in the
// transaction, and a joining participant's PromoteTimers applies them only
// if they are still what it read.
func testPendingTimers(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	t1 := map[string]store.ParticipantTimers{"CUSTOMER": {IdleMinutes: 5}}
	t2 := map[string]store.ParticipantTimers{"CUSTOMER": {IdleMinutes: 2}, "AGENT": {DisconnectMinutes: 3}}
	check := func(what string, timers, pending map[string]store.ParticipantTimers) {
		t.Helper()
		k, err := s.Contact(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, what+": timers", k.Timers, timers)
		equal(t, what+": pending", k.PendingTimers, pending)
		if (k.PendingTimers == nil) != (pending == nil) {
			t.Errorf("%s: pending %#v, want %#v", what, k.PendingTimers, pending)
		}
	}

	// The customer alone: applied at once.
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "c", Timers: t1, PendingWhile: running}})
	check("customer alone", t1, nil)
	// The customer and an agent: pending.
	apply(t, s, &store.Change{NewParticipants: []store.Participant{participant("a1", "c", "AGENT")}})
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "c", Timers: t2, PendingWhile: running}})
	check("with an agent", t1, t2)

	// A PromoteTimers decided from anything else is stale, and changes nothing.
	for name, p := range map[string]store.PromoteTimers{
		"none pending read":  {ContactID: "c", IfTimers: t1},
		"other timers read":  {ContactID: "c", IfTimers: t2, IfPending: t2},
		"other pending read": {ContactID: "c", IfTimers: t1, IfPending: t1},
	} {
		t.Run(name, func(t *testing.T) {
			wantErr(t, s, &store.Change{NewParticipants: []store.Participant{participant("a-"+name, "c", "AGENT")}, PromoteTimers: &p}, store.ErrStale)
		})
	}
	check("after stale promotions", t1, t2)

	// The agent leaves; the next one joining applies the pending timers.
	apply(t, s, &store.Change{Leave: []store.Leave{{ParticipantID: "a1", At: t0}}})
	check("agent left", t1, t2)
	apply(t, s, &store.Change{NewParticipants: []store.Participant{participant("a2", "c", "AGENT")},
		PromoteTimers: &store.PromoteTimers{ContactID: "c", IfTimers: t1, IfPending: t2}})
	check("next agent joined", t2, nil)
	// Nothing pending: a promotion keeps the timers.
	apply(t, s, &store.Change{PromoteTimers: &store.PromoteTimers{ContactID: "c", IfTimers: t2}})
	check("nothing pending", t2, nil)

	// A pending configuration with no timer (all Unset) is pending still.
	none := map[string]store.ParticipantTimers{}
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "c", Timers: none, PendingWhile: running}})
	check("empty pending", t2, none)
	apply(t, s, &store.Change{PromoteTimers: &store.PromoteTimers{ContactID: "c", IfTimers: t2, IfPending: none}})
	check("empty applied", none, nil)
	// Without PendingWhile, timers apply at once.
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "c", Timers: t1}})
	check("no PendingWhile", t1, nil)

	// A custom bot counts as an agent does; a customer must be there too.
	newChat(t, s, "bot")
	apply(t, s, &store.Change{NewParticipants: []store.Participant{participant("b1", "bot", "CUSTOM_BOT")}})
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "bot", Timers: t1, PendingWhile: running}})
	if k, _ := s.Contact(ctx, "bot"); k.Timers != nil || k.PendingTimers == nil {
		t.Errorf("with a custom bot: timers %v, pending %v; want pending", k.Timers, k.PendingTimers)
	}
	newChat(t, s, "gone")
	apply(t, s, &store.Change{NewParticipants: []store.Participant{participant("a3", "gone", "AGENT")},
		Leave: []store.Leave{{ParticipantID: "p-gone", At: t0}}})
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "gone", Timers: t1, PendingWhile: running}})
	if k, _ := s.Contact(ctx, "gone"); k.Timers == nil || k.PendingTimers != nil {
		t.Errorf("with the customer gone: timers %v, pending %v; want applied", k.Timers, k.PendingTimers)
	}
}

// testPendingTimersRace races an agent joining (with the PromoteTimers
// decided before) against an update, on two stores of one database where
// the backend allows it: the update is pending if the agent joined first,
// and the join is stale if the update was applied first. Never both
// applied: an agent joined under timers it did not read.
func testPendingTimersRace(t *testing.T, b Backend) {
	o := b.NewDatabase(t)
	s1 := open(t, o, nil)
	s2 := s1
	if b.Shared {
		s2 = open(t, o, nil)
	}
	t1 := map[string]store.ParticipantTimers{"CUSTOMER": {IdleMinutes: 5}}
	for i := range 20 {
		c := fmt.Sprint("race", i)
		newChat(t, s1, c)
		var wg sync.WaitGroup
		var joinErr, setErr error
		wg.Go(func() {
			_, joinErr = s1.Apply(ctx, &store.Change{NewParticipants: []store.Participant{participant("a-"+c, c, "AGENT")},
				PromoteTimers: &store.PromoteTimers{ContactID: c}})
		})
		wg.Go(func() {
			_, setErr = s2.Apply(ctx, &store.Change{Timers: &store.SetTimers{ContactID: c, Timers: t1, PendingWhile: running}})
		})
		wg.Wait()
		if setErr != nil {
			t.Fatal(setErr)
		}
		k, err := s1.Contact(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case joinErr == nil && (k.Timers != nil || k.PendingTimers == nil):
			t.Errorf("%s: the agent joined and the update applied at once (timers %v, pending %v)", c, k.Timers, k.PendingTimers)
		case errors.Is(joinErr, store.ErrStale) && (k.Timers == nil || k.PendingTimers != nil):
			t.Errorf("%s: the join was stale, yet timers %v, pending %v", c, k.Timers, k.PendingTimers)
		case joinErr != nil && !errors.Is(joinErr, store.ErrStale):
			t.Errorf("%s: join: %v", c, joinErr)
		}
	}
}
