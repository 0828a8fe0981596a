package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// testExpect checks Change.Expect: a change decided from a participant as
// a cache saw it commits only if the participant is still so.
func testExpect(t *testing.T, b Backend) {
	s := newStore(t, b)
	newChat(t, s, "c")
	newChat(t, s, "other")
	fresh := store.Expect{ParticipantID: "p-c", ContactID: "c"}
	send := func(id string, e store.Expect) *store.Change {
		return &store.Change{RequireActive: "c", Expect: &e, Items: []store.Item{message("c", id, "")}}
	}
	apply(t, s, send("m1", fresh))

	stale := map[string]func(*store.Expect){
		"unknown participant": func(e *store.Expect) { e.ParticipantID = "nobody" },
		"other contact":       func(e *store.Expect) { e.ContactID = "other" },
		"idle":                func(e *store.Expect) { e.Idle = true },
		"idle deadline":       func(e *store.Expect) { e.IdleAt = t0 },
		"disconnect deadline": func(e *store.Expect) { e.DisconnectAt = t0 },
		"role's timers":       func(e *store.Expect) { e.Timers.IdleMinutes = 5 },
	}
	for name, f := range stale {
		e := fresh
		f(&e)
		t.Run(name, func(t *testing.T) { wantErr(t, s, send("m-"+name, e), store.ErrStale) })
	}

	// What changes the participant or its role's timers makes the old
	// expectation stale, and the new one holds.
	apply(t, s, &store.Change{Clocks: []store.Clock{{ParticipantID: "p-c", IdleAt: t0.Add(time.Minute)}}})
	wantErr(t, s, send("m2", fresh), store.ErrStale)
	clocked := fresh
	clocked.IdleAt = t0.Add(time.Minute)
	apply(t, s, send("m2", clocked))
	apply(t, s, &store.Change{Timers: &store.SetTimers{ContactID: "c", Timers: map[string]store.ParticipantTimers{
		"CUSTOMER": {IdleMinutes: 3}, "AGENT": {IdleMinutes: 7}}}})
	wantErr(t, s, send("m3", clocked), store.ErrStale)
	clocked.Timers = store.ParticipantTimers{IdleMinutes: 3}
	apply(t, s, send("m3", clocked))

	// Senders racing a leave, each in the change that restarts their own
	// clock (as a message does): nothing they send commits after the left
	// event, and a sender whose own earlier message changed the clock is
	// told so rather than committing on a stale view.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == len(errs)/2 {
				left := event("c", "left")
				left.InTranscript = true
				_, errs[i] = s.Apply(ctx, &store.Change{RequireActive: "c", Leave: []store.Leave{{ParticipantID: "p-c", At: t0}},
					Items: []store.Item{left}})
				return
			}
			ch := send(fmt.Sprint("race", i), clocked)
			ch.Clocks = []store.Clock{{ParticipantID: "p-c", IdleAt: clocked.IdleAt}}
			_, errs[i] = s.Apply(ctx, ch)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && (i == len(errs)/2 || !errors.Is(err, store.ErrStale)) {
			t.Errorf("change %d: %v", i, err)
		}
	}
	items, err := s.Transcript(ctx, "c", 0, true, 1000)
	if err != nil {
		t.Fatal(err)
	}
	leftAt := int64(-1)
	for _, it := range items {
		if it.ID == "left" {
			leftAt = it.Seq
		} else if leftAt >= 0 {
			t.Errorf("%s (seq %d) committed after the participant left (seq %d)", it.ID, it.Seq, leftAt)
		}
	}
	if leftAt < 0 {
		t.Fatal("no left event")
	}
	wantErr(t, s, send("m4", clocked), store.ErrStale)
}
