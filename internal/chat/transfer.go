package chat

import (
	"context"
	"errors"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Transfer events, as Connect sends them and ChatJS names them.
const (
	EventParticipantInvited = eventPrefix + "participant.invited"
	EventTransferSucceeded  = eventPrefix + "transfer.succeeded"
	EventTransferFailed     = eventPrefix + "transfer.failed"
)

// Transfer hands a chat a console agent holds to another console agent
// (toAgentID), or back to the queue (toAgentID ""). The agent leaves the
// chat; the chat waits in the queue again, for the named agent only, who
// accepts it as any queued chat. The transcript says so as Connect does:
// participant.invited for the agent invited, transfer.succeeded once the
// chat is with the queue or the new agent, transfer.failed when the agent
// invited cannot take it (at their limit of chats), in which case the chat
// stays with the agent who transferred it.
func (s *Service) Transfer(ctx context.Context, agent store.Agent, contactID, toAgentID string) error {
	mine, err := s.store.AgentParticipants(ctx, agent.ID)
	if err != nil {
		return err
	}
	var me store.Participant
	for _, p := range mine {
		if p.ContactID == contactID && p.Role == RoleAgent {
			me = p
		}
	}
	if me.ID == "" {
		return errorf(AccessDenied, "You are not in this chat.")
	}
	sess := &Session{Participant: me}
	if sess.Contact, err = s.activeContact(ctx, contactID); err != nil {
		return err
	}
	ch := &store.Change{RequireActive: contactID}
	if toAgentID != "" {
		if toAgentID == agent.ID {
			return errorf(Invalid, "You cannot transfer a chat to yourself.")
		}
		agents, err := s.store.Agents(ctx)
		if err != nil {
			return err
		}
		var to store.Agent
		for _, a := range agents {
			if a.ID == toAgentID {
				to = a
			}
		}
		if to.ID == "" {
			return errorf(NotFound, "There is no agent %s.", toAgentID)
		}
		invited := store.Item{ID: secret.NewTimeUUID(), ContactID: contactID, Type: TypeEvent,
			ContentType: EventParticipantInvited, DisplayName: to.Name, Role: RoleAgent, InTranscript: true}
		held, err := s.store.AgentParticipants(ctx, to.ID)
		if err != nil {
			return err
		}
		if countRole(held, RoleAgent) >= MaxAgentChats {
			ch.Items = []store.Item{invited, systemEvent(contactID, EventTransferFailed)}
			if _, err := s.store.Apply(ctx, ch); err != nil {
				if errors.Is(err, store.ErrEnded) {
					return errChatEnded
				}
				return err
			}
			return errorf(QuotaExceeded, "%s holds %d chats already: the transfer failed.", to.Name, MaxAgentChats)
		}
		ch.Items = append(ch.Items, invited)
		ch.Requeue = &store.Requeue{ContactID: contactID, TransferTo: to.ID, At: s.now()}
	} else {
		ch.Requeue = &store.Requeue{ContactID: contactID, At: s.now()}
	}
	left := s.newItem(sess, TypeEvent, EventParticipantLeft, "", "")
	left.InTranscript = true
	ch.Leave = []store.Leave{{ParticipantID: me.ID, At: s.now()}}
	ch.Clocks = []store.Clock{{ParticipantID: me.ID}} // no timers run for who left
	ps, err := s.store.Participants(ctx, contactID)
	if err != nil {
		return err
	}
	// Nor for the customer waiting in the queue again.
	ch.Clocks = append(ch.Clocks, stopCustomerClocks(ps, me.ID)...)
	ch.Items = append([]store.Item{left}, ch.Items...)
	if toAgentID == "" {
		ch.Items = append(ch.Items, systemEvent(contactID, EventTransferSucceeded))
	}
	_, err = s.store.Apply(ctx, ch)
	switch {
	case errors.Is(err, store.ErrEnded):
		return errChatEnded
	case errors.Is(err, store.ErrConflict):
		return errorf(Conflict, "The chat is not connected to an agent.")
	case err != nil:
		return err
	}
	return nil
}

func systemEvent(contactID, contentType string) store.Item {
	return store.Item{ID: secret.NewTimeUUID(), ContactID: contactID, Type: TypeEvent, ContentType: contentType,
		Role: RoleSystem, InTranscript: true}
}

func countRole(ps []store.Participant, role string) int {
	n := 0
	for _, p := range ps {
		if p.Role == role {
			n++
		}
	}
	return n
}
