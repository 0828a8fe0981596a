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
// and an auto-disconnect timeout, which run while the customer and an agent
// or a custom bot are in the chat (timersRun). A participant who sends no message for the
// idle timeout becomes idle (participant.idle); sending again makes them
// return (participant.returned); staying idle for the auto-disconnect
// timeout disconnects every participant but the customer, whoever's timer
// it is (participant.autodisconnection, then each one's participant.left;
// the chat ends with its agent). The deadlines are the participant's
// columns (store.Participant.IdleAt, DisconnectAt), set in the same change
// as the message or update that resets them, and the sweeper (sweep.go)
// acts on them: they survive restarts, and each takes effect once however
// many processes share the store.

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

// TimerUpdate is one entry of UpdateParticipantRoleConfig's list.
type TimerUpdate struct {
	Role    string // CUSTOMER or AGENT
	Type    string // IDLE or DISCONNECT_NONCUSTOMER
	Minutes int    // 0 with Unset
	Unset   bool
}

// UpdateTimers changes a chat's participant timers. As Connect's admin
// guide has it (Set up chat timeouts), "if you update the timer
// configuration while an agent/custom participant and customer are already
// connected to each other, the new configuration is stored but not applied
// until and unless a new agent/custom participant connects to the chat":
// the configuration in force when an agent joined applies as long as that
// agent stays. So while the timers run (timersRun) the update is stored as
// pending, and the next agent or custom bot to join applies it (see
// addParticipant); otherwise it applies at once, and no clock runs to
// restart. Which of the two is decided in the committing transaction
// (store.SetTimers.PendingWhile): a participant joining or leaving on
// another node meanwhile cannot slip between the check and the write.
func (s *Service) UpdateTimers(ctx context.Context, instanceID, contactID string, updates []TimerUpdate) error {
	c, _, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return err
	}
	if c.State == store.ContactEnded {
		return errChatEnded
	}
	// An update builds on the latest configuration, pending or in force.
	base := c.Timers
	if c.PendingTimers != nil {
		base = c.PendingTimers
	}
	timers := map[string]store.ParticipantTimers{}
	for role, t := range base {
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
	ch := &store.Change{RequireActive: contactID, Timers: &store.SetTimers{ContactID: contactID, Timers: timers,
		PendingWhile: timersRunWith}}
	_, err = s.store.Apply(ctx, ch)
	if errors.Is(err, store.ErrEnded) {
		return errChatEnded
	}
	return err
}

// timersRunWith is timersRun for the store: a joined participant of each
// group of roles.
var timersRunWith = [][]string{{RoleCustomer}, {RoleAgent, RoleCustomBot}}

// effectiveTimers are the timers that apply from the next agent or custom
// bot to join: the pending ones if an update is pending.
func effectiveTimers(c store.Contact) map[string]store.ParticipantTimers {
	if c.PendingTimers != nil {
		return c.PendingTimers
	}
	return c.Timers
}

func human(role string) bool { return role == RoleCustomer || role == RoleAgent }

// timersRun reports whether participant timers run in a chat with these
// participants, leaving aside the one named by except (who is leaving):
// "Timers run when both an agent and a customer are connected to the chat,
// or when a customer and a custom participant (such as a custom bot) are
// connected", and "are first started when an agent/custom participant
// joins the chat, and are stopped if the agent/custom participant leaves"
// (admin guide, Set up chat timeouts). A customer waiting in the queue is
// never idle.
func timersRun(ps []store.Participant, except string) bool {
	customer, other := false, false
	for _, p := range ps {
		if p.State != store.ParticipantJoined || p.ID == except {
			continue
		}
		switch p.Role {
		case RoleCustomer:
			customer = true
		case RoleAgent, RoleCustomBot:
			other = true
		}
	}
	return customer && other
}

// stopCustomerClocks returns the changes that stop the customers' timers
// when the participant leaving was the last agent or custom bot with them.
func stopCustomerClocks(ps []store.Participant, leaving string) []store.Clock {
	if timersRun(ps, leaving) {
		return nil
	}
	var out []store.Clock
	for _, p := range ps {
		if p.Role == RoleCustomer && p.State == store.ParticipantJoined && (p.Idle || !p.IdleAt.IsZero() || !p.DisconnectAt.IsZero()) {
			out = append(out, store.Clock{ParticipantID: p.ID})
		}
	}
	return out
}

// clock is a participant's timer state from now: active, with its idle
// deadline if its role has an idle timeout, or else its auto-disconnect
// deadline if it has that alone ("If only one type of timer is configured
// for a role, that timer starts immediately", admin guide; with both, the
// auto-disconnect timer starts when the participant becomes idle).
func (s *Service) clock(participantID string, t store.ParticipantTimers, now time.Time) store.Clock {
	k := store.Clock{ParticipantID: participantID}
	switch {
	case t.IdleMinutes > 0:
		k.IdleAt = now.Add(time.Duration(t.IdleMinutes) * time.Minute)
		s.wake(k.IdleAt)
	case t.DisconnectMinutes > 0:
		k.DisconnectAt = now.Add(time.Duration(t.DisconnectMinutes) * time.Minute)
		s.wake(k.DisconnectAt)
	}
	return k
}

// active adds to ch, the change of a message the participant sends, the
// restart of their idle timer and, if they were idle, their return. Only a
// clock that runs restarts: one that does not is either for a role with no
// timer, or stopped because no agent or custom bot is with the customer
// (timersRun), and a message of the customer's waiting in the queue must
// not start it; an agent or bot joining does (addParticipant).
func (s *Service) active(sess *Session, ch *store.Change) {
	p := sess.Participant
	t := sess.Contact.Timers[p.Role]
	if !human(p.Role) || (!p.Idle && p.IdleAt.IsZero() && p.DisconnectAt.IsZero()) {
		return
	}
	ch.Clocks = append(ch.Clocks, s.clock(p.ID, t, s.now()))
	if p.Idle {
		ch.Items = append(ch.Items, s.presence(p, EventParticipantReturned))
	}
}

// presence is a live-only event about a participant.
func (s *Service) presence(p store.Participant, contentType string) store.Item {
	return store.Item{
		ID: secret.NewTimeUUID(), ContactID: p.ContactID, ParticipantID: p.ID, Type: TypeEvent,
		ContentType: contentType, DisplayName: p.DisplayName, Role: p.Role,
	}
}

// becameIdle applies a due idle deadline: the participant is idle, their
// auto-disconnect deadline runs from the moment they became idle, and the
// participant.idle event goes out in the same change. The change holds only
// if the deadline is still the one claimed, so it happens once.
func (s *Service) becameIdle(ctx context.Context, d store.Due) error {
	p, c, err := s.store.Session(ctx, d.ParticipantID)
	if err != nil {
		return err
	}
	if p.State != store.ParticipantJoined || !p.IdleAt.Equal(d.At) {
		return nil // superseded since the claim
	}
	k := store.Clock{ParticipantID: p.ID, Idle: true, Conditional: true, IfIdleAt: p.IdleAt, IfDisconnectAt: p.DisconnectAt}
	if m := c.Timers[p.Role].DisconnectMinutes; m > 0 {
		k.DisconnectAt = d.At.Add(time.Duration(m) * time.Minute)
		s.wake(k.DisconnectAt)
	}
	_, err = s.store.Apply(ctx, &store.Change{RequireActive: p.ContactID, Clocks: []store.Clock{k},
		Items: []store.Item{s.presence(p, EventParticipantIdle)}})
	return err
}

// autoDisconnect applies a due auto-disconnect deadline. As the admin
// guide has it (Set up chat timeouts), it disconnects "all participants
// other than the customer (such as the agent, any monitoring supervisors,
// or custom participants)", whoever's timer it is: the customer's
// auto-disconnect timer disconnects "the agent from the chat due to
// customer idleness", not the customer. The participant.autodisconnection
// event (of the idle participant) and the disconnections go in one change,
// conditional on the deadline claimed; the chat ends with its last agent,
// as when an agent leaves.
func (s *Service) autoDisconnect(ctx context.Context, d store.Due) error {
	sess, err := s.session(ctx, d.ParticipantID)
	if err != nil {
		return err
	}
	p := sess.Participant
	// Not idle when the role has the auto-disconnect timer alone.
	if p.State != store.ParticipantJoined || !p.DisconnectAt.Equal(d.At) {
		return nil
	}
	ps, err := s.store.Participants(ctx, p.ContactID)
	if err != nil {
		return err
	}
	now := s.now()
	ch := &store.Change{
		RequireActive: p.ContactID,
		Items:         []store.Item{s.presence(p, EventParticipantAutoDisconnection)},
		// The idle participant's deadlines are cleared only if they are
		// still the ones claimed.
		Clocks: []store.Clock{{ParticipantID: p.ID, Conditional: true, IfIdleAt: p.IdleAt, IfDisconnectAt: p.DisconnectAt}},
	}
	agentLeft := false
	for _, o := range ps {
		if o.State != store.ParticipantJoined || o.Role == RoleCustomer {
			continue
		}
		ch.Leave = append(ch.Leave, store.Leave{ParticipantID: o.ID, At: now})
		if human(o.Role) && o.ID != p.ID {
			ch.Clocks = append(ch.Clocks, store.Clock{ParticipantID: o.ID})
		}
		if !silent(o) { // a silent monitor leaves unheard
			ch.Items = append(ch.Items, store.Item{
				ID: secret.NewTimeUUID(), ContactID: o.ContactID, ParticipantID: o.ID, Type: TypeEvent,
				ContentType: EventParticipantLeft, DisplayName: o.DisplayName, Role: o.Role, InTranscript: true,
			})
		}
		agentLeft = agentLeft || o.Role == RoleAgent
	}
	// Without an agent (a custom bot was with the customer) the customer
	// stays, and the customer's own clock, stopped above, with them.
	if agentLeft {
		ch.Items = append(ch.Items, endedItem(p.ContactID))
		ch.End = &store.End{ContactID: p.ContactID, At: now, Reason: ReasonAgent}
	}
	_, err = s.store.Apply(ctx, ch)
	return err
}
