package chat

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// The sweeper applies the deadlines the store holds: chat expiry
// (ChatDurationInMinutes) and the participant timers; and it resumes
// attachment checks whose lease ran out. Every process sweeps
// about every SweepInterval, with jitter, and sooner when it has just set a
// deadline due before its next tick, so that a short timer is not late by
// a tick. Each sweep claims due rows (store.ClaimDue) and applies each as
// one conditional change carrying the state change and the events it
// emits: any number of processes, across restarts, apply each once.

const (
	// sweepLease is how long a claimed deadline is left to its claimer: one
	// whose process died is claimed again after it.
	sweepLease = 30 * time.Second
	sweepBatch = 100
)

// wake has the sweeper look at at, if that is before its next tick.
func (s *Service) wake(at time.Time) {
	if s.cfg.SweepInterval <= 0 || at.Sub(s.now()) > s.cfg.SweepInterval {
		return
	}
	s.mu.Lock()
	if s.nextWake.IsZero() || at.Before(s.nextWake) {
		s.nextWake = at
	}
	s.mu.Unlock()
	select {
	case s.woken <- struct{}{}:
	default:
	}
}

// runSweeper sweeps until ctx ends; Start runs it, Shutdown stops it.
func (s *Service) runSweeper(ctx context.Context) {
	t := time.NewTimer(0) // the first sweep at once: what passed while no server ran
	defer t.Stop()
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.woken:
			t.Reset(s.untilSweep(next))
			continue
		case <-t.C:
		}
		s.sweep(s.work)
		jitter := time.Duration(rand.Int64N(int64(s.cfg.SweepInterval)/5 + 1))
		next = time.Now().Add(s.cfg.SweepInterval + jitter)
		t.Reset(s.untilSweep(next))
	}
}

// untilSweep is how long to wait for the tick at next, or for an earlier
// deadline this process set.
func (s *Service) untilSweep(next time.Time) time.Duration {
	d := time.Until(next)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.nextWake.IsZero() {
		// A few ms late, so that the deadline has passed by the store's clock too.
		if w := s.nextWake.Sub(s.now()) + 5*time.Millisecond; w < d {
			d = w
		}
	}
	return max(d, 0)
}

// sweep claims the deadlines due now and applies them, batch by batch.
func (s *Service) sweep(ctx context.Context) {
	now := s.now()
	s.mu.Lock()
	if !s.nextWake.After(now) {
		s.nextWake = time.Time{}
	}
	s.mu.Unlock()
	for s.background.Err() == nil {
		due, err := s.store.ClaimDue(ctx, now, sweepLease, sweepBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claiming due deadlines", "err", err)
			}
			return
		}
		for _, d := range due {
			if err := s.applyDue(ctx, d); err != nil && ctx.Err() == nil {
				s.log.Error("applying a deadline", "kind", d.Kind, "contact", d.ContactID, "participant", d.ParticipantID, "err", err)
			}
		}
		if len(due) < sweepBatch {
			break
		}
	}
	if s.cfg.Blobs != nil && s.background.Err() == nil {
		s.sweepFiles(ctx, now)
	}
}

// applyDue applies one claimed deadline. A change refused because another
// process, or a message, got there first is no error: the effect happened
// once, elsewhere, or was superseded.
func (s *Service) applyDue(ctx context.Context, d store.Due) error {
	var err error
	switch d.Kind {
	case store.DueExpiry:
		err = s.end(ctx, d.ContactID, ReasonExpired, nil)
	case store.DueConnectBy:
		err = s.endNotConnected(ctx, d.ContactID)
	case store.DueIdle:
		err = s.becameIdle(ctx, d)
	case store.DueDisconnect:
		err = s.autoDisconnect(ctx, d)
	}
	if KindOf(err) == Ended || errors.Is(err, store.ErrEnded) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
