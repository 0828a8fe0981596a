package chat

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Participant timers, as Amazon Connect's "chat timeouts for human
// participants": UpdateParticipantRoleConfig sets, per role, an idle timeout
// and an auto-disconnect timeout. A participant who sends no message for the
// idle timeout becomes idle (participant.idle); sending again makes them
// return (participant.returned); staying idle for the auto-disconnect
// timeout disconnects them (participant.autodisconnection, then as if they
// had called DisconnectParticipant). The timers run in memory: after a
// restart they count again from the restart.

const (
	EventParticipantAutoDisconnection = eventPrefix + "participant.autodisconnection"
	EventParticipantReturned          = eventPrefix + "participant.returned"
)

// Timer types and the action that removes a timer.
const (
	TimerIdle       = "IDLE"
	TimerDisconnect = "DISCONNECT_NONCUSTOMER"
	TimerUnset      = "Unset"
)

// Stopper is a scheduled call that can be cancelled.
type Stopper interface{ Stop() bool }

// TimerUpdate is one entry of UpdateParticipantRoleConfig's list.
type TimerUpdate struct {
	Role    string // CUSTOMER or AGENT
	Type    string // IDLE or DISCONNECT_NONCUSTOMER
	Minutes int    // 0 with Unset
	Unset   bool
}

// idleWatch follows one human participant's activity.
type idleWatch struct {
	contactID string
	timers    store.ParticipantTimers
	timer     Stopper
	idle      bool
	gen       int // a timer firing with an older gen was superseded
}

// UpdateTimers changes a chat's participant timers and restarts the timers
// of its participants.
func (s *Service) UpdateTimers(ctx context.Context, instanceID, contactID string, updates []TimerUpdate) error {
	c, ps, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return err
	}
	if c.State == store.ContactEnded {
		return errChatEnded
	}
	timers := map[string]store.ParticipantTimers{}
	for role, t := range c.Timers {
		timers[role] = t
	}
	seen := map[[2]string]bool{}
	for _, u := range updates {
		key := [2]string{u.Role, u.Type}
		if seen[key] {
			return errorf(Invalid, "ParticipantTimerConfigList has %s %s twice.", u.Role, u.Type)
		}
		seen[key] = true
		t := timers[u.Role]
		if u.Type == TimerIdle {
			t.IdleMinutes = u.Minutes
		} else {
			t.DisconnectMinutes = u.Minutes
		}
		timers[u.Role] = t
	}
	_, err = s.store.Apply(ctx, &store.Change{RequireActive: contactID, Timers: &store.SetTimers{ContactID: contactID, Timers: timers}})
	if errors.Is(err, store.ErrEnded) {
		return errChatEnded
	}
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.State == store.ParticipantJoined {
			s.watch(contactID, timers, p)
		}
	}
	return nil
}

// watch (re)starts the idle timer of a human participant.
func (s *Service) watch(contactID string, timers map[string]store.ParticipantTimers, p store.Participant) {
	if p.Role != RoleCustomer && p.Role != RoleAgent {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.watches[p.ID]
	if w == nil {
		w = &idleWatch{contactID: contactID}
	}
	w.timers = timers[p.Role]
	s.arm(p.ID, w)
}

// arm starts w's idle timer; s.mu is held.
func (s *Service) arm(participantID string, w *idleWatch) {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.gen++
	w.idle = false
	if s.closed || w.timers.IdleMinutes == 0 {
		delete(s.watches, participantID)
		return
	}
	s.watches[participantID] = w
	gen := w.gen
	w.timer = s.cfg.AfterFunc(time.Duration(w.timers.IdleMinutes)*time.Minute, func() { s.becameIdle(participantID, gen) })
}

func (s *Service) unwatch(participantIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range participantIDs {
		if w := s.watches[id]; w != nil {
			if w.timer != nil {
				w.timer.Stop()
			}
			delete(s.watches, id)
		}
	}
}

func (s *Service) unwatchContact(contactID string) {
	s.mu.Lock()
	var ids []string
	for id, w := range s.watches {
		if w.contactID == contactID {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	s.unwatch(ids...)
}

// active records that a participant sent something: an idle participant
// returns, and the idle timer starts again.
func (s *Service) active(ctx context.Context, sess *Session) {
	s.mu.Lock()
	w := s.watches[sess.Participant.ID]
	if w == nil {
		s.mu.Unlock()
		return
	}
	wasIdle := w.idle
	s.arm(sess.Participant.ID, w)
	s.mu.Unlock()
	if wasIdle {
		s.emitPresence(ctx, sess.Participant, EventParticipantReturned)
	}
}

func (s *Service) becameIdle(participantID string, gen int) {
	s.mu.Lock()
	w := s.watches[participantID]
	if w == nil || w.gen != gen || s.closed {
		s.mu.Unlock()
		return
	}
	w.idle = true
	if d := w.timers.DisconnectMinutes; d > 0 {
		w.timer = s.cfg.AfterFunc(time.Duration(d)*time.Minute, func() { s.autoDisconnect(participantID, gen) })
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p, err := s.store.Participant(ctx, participantID); err == nil {
		s.emitPresence(ctx, p, EventParticipantIdle)
	}
}

func (s *Service) autoDisconnect(participantID string, gen int) {
	s.mu.Lock()
	w := s.watches[participantID]
	if w == nil || w.gen != gen || !w.idle || s.closed {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := s.session(ctx, participantID)
	if err != nil {
		return
	}
	s.emitPresence(ctx, sess.Participant, EventParticipantAutoDisconnection)
	if err := s.Disconnect(ctx, sess, ""); err != nil && KindOf(err) == 0 {
		s.log.Error("auto-disconnecting an idle participant", "participant", participantID, "err", err)
	}
}

// emitPresence sends a live-only event about a participant.
func (s *Service) emitPresence(ctx context.Context, p store.Participant, contentType string) {
	_, err := s.store.Apply(ctx, &store.Change{RequireActive: p.ContactID, Items: []store.Item{{
		ID: secret.NewTimeUUID(), ContactID: p.ContactID, ParticipantID: p.ID, Type: TypeEvent,
		ContentType: contentType, DisplayName: p.DisplayName, Role: p.Role,
	}}})
	if err != nil && !errors.Is(err, store.ErrEnded) {
		s.log.Error("sending a participant event", "event", contentType, "err", err)
	}
}
