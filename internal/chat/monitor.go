package chat

import (
	"context"
	"errors"
	"slices"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// RoleSupervisor is a participant monitoring a chat (MonitorContact).
const RoleSupervisor = "SUPERVISOR"

// Monitor capabilities (AllowedMonitorCapabilities).
const (
	MonitorSilent = "SILENT_MONITOR"
	MonitorBarge  = "BARGE"
)

// silent reports whether a participant is a supervisor that has not barged
// in: it hears the chat, and nobody hears of it.
func silent(p store.Participant) bool { return p.Role == RoleSupervisor && !p.Barged }

var errSilent = errorf(AccessDenied, "A silent monitor cannot send to the chat; barge in first.")

// MonitorOutput is a supervisor's participant in a chat.
type MonitorOutput struct {
	ParticipantID    string
	ParticipantToken string
	Capabilities     []string
	Barged           bool
}

// Monitor makes a console agent (userID) a SUPERVISOR of a chat that an
// agent is handling (MonitorContact). It joins silently: no event says so
// until it barges in. Monitoring an ended or unanswered chat is refused
// as Connect refuses it (InvalidRequest); an unknown user is NotFound.
// Monitoring again returns the same participant with a new token, which is
// how the console gets one. A retry with the same clientToken (within
// IdempotencyWindow) answers as the first request did, without a token.
func (s *Service) Monitor(ctx context.Context, instanceID, contactID, userID string, capabilities []string, clientToken string) (MonitorOutput, error) {
	var out MonitorOutput
	scope := "monitor-contact:" + instanceID
	var first monitorRecord
	if ok, err := s.idempotent(ctx, scope, clientToken, &first); ok || err != nil {
		if err == nil && !first.matches(contactID, userID) {
			return out, errorf(Mismatch, "ClientToken %s was used for a request to monitor another contact or for another user.", clientToken)
		}
		return first.MonitorOutput, err
	}
	c, ps, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return out, err
	}
	agents, err := s.store.Agents(ctx)
	if err != nil {
		return out, err
	}
	i := slices.IndexFunc(agents, func(a store.Agent) bool { return a.ID == userID })
	if i < 0 {
		return out, errorf(NotFound, "User %s not found.", userID)
	}
	user := agents[i]
	if c.State == store.ContactEnded {
		return out, errorf(Invalid, "Contact %s is not active; only contacts in progress can be monitored.", contactID)
	}
	if c.State != store.ContactConnected {
		return out, errorf(Invalid, "Contact %s is not connected to an agent yet; only contacts in progress can be monitored.", contactID)
	}
	if len(capabilities) == 0 {
		capabilities = []string{MonitorSilent}
	}
	token := secret.NewToken()
	for _, p := range ps {
		if p.State != store.ParticipantJoined || p.AgentID != user.ID {
			continue
		}
		if p.Role != RoleSupervisor {
			return out, errorf(Invalid, "User %s is in the chat as an agent.", userID)
		}
		// Monitoring already: hand out a fresh token for the participant.
		_, err := s.store.Apply(ctx, &store.Change{RequireActive: contactID,
			ParticipantToken: &store.ParticipantToken{ParticipantID: p.ID, TokenHash: secret.Hash(token)}})
		if errors.Is(err, store.ErrEnded) {
			return out, errChatEnded
		}
		return MonitorOutput{ParticipantID: p.ID, ParticipantToken: token, Capabilities: p.MonitorCapabilities, Barged: p.Barged}, err
	}
	p := store.Participant{
		ID: secret.NewTimeUUID(), ContactID: contactID, Role: RoleSupervisor, DisplayName: user.Name,
		TokenHash: secret.Hash(token), State: store.ParticipantJoined, JoinedAt: s.now(), AgentID: user.ID,
		MonitorCapabilities: capabilities,
	}
	out = MonitorOutput{ParticipantID: p.ID, Capabilities: capabilities}
	_, err = s.store.Apply(ctx, &store.Change{RequireActive: contactID, NewParticipants: []store.Participant{p},
		Limits:      []store.Limit{{Count: store.CountParticipants, Key: contactID, Max: MaxParticipants}},
		Idempotency: s.idempotencyRecord(scope, contactID, clientToken, monitorRecord{out, contactID, userID})})
	switch {
	case errors.Is(err, store.ErrDuplicate): // a concurrent retry won
		first = monitorRecord{}
		if _, err = s.idempotent(ctx, scope, clientToken, &first); err == nil && !first.matches(contactID, userID) {
			err = errorf(Mismatch, "ClientToken %s was used for a request to monitor another contact or for another user.", clientToken)
		}
		return first.MonitorOutput, err
	case errors.Is(err, store.ErrEnded):
		return out, errorf(Invalid, "Contact %s is not active; only contacts in progress can be monitored.", contactID)
	case errors.Is(err, store.ErrLimit):
		return out, limitError(err)
	case err != nil:
		return out, err
	}
	out.ParticipantToken = token
	return out, nil
}

// monitorRecord is what MonitorContact keeps for its ClientToken: the
// answer, and what it was the answer to, so that the token reused for
// another contact or user is not answered as if that had been done.
type monitorRecord struct {
	MonitorOutput
	ContactID, UserID string
}

// matches reports whether the record answers a request for contactID and
// userID (a record kept before they were has neither, and matches).
func (r monitorRecord) matches(contactID, userID string) bool {
	return r.ContactID == "" || (r.ContactID == contactID && r.UserID == userID)
}

// Barge lets a console agent's silent monitor take part in the chat: it
// needs the BARGE capability, and the chat hears it join.
func (s *Service) Barge(ctx context.Context, agent store.Agent, contactID string) error {
	ps, err := s.store.Participants(ctx, contactID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ps, func(p store.Participant) bool {
		return p.Role == RoleSupervisor && p.AgentID == agent.ID && p.State == store.ParticipantJoined
	})
	if i < 0 {
		return errorf(AccessDenied, "You are not monitoring this chat.")
	}
	p := ps[i]
	if !slices.Contains(p.MonitorCapabilities, MonitorBarge) {
		return errorf(AccessDenied, "Barge is not among your AllowedMonitorCapabilities for this chat.")
	}
	if p.Barged {
		return nil
	}
	_, err = s.store.Apply(ctx, &store.Change{RequireActive: contactID, Barge: p.ID, Items: []store.Item{joinedItem(p)}})
	switch {
	case errors.Is(err, store.ErrEnded):
		return errChatEnded
	case errors.Is(err, store.ErrConflict):
		return nil // barged meanwhile
	}
	return err
}
