package chat

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// The agent console holds its agent's chats on the server: a new tab or a
// fresh sign-in reopens them, and their transcripts and files stay readable
// to the agent after they end (a participant's own token no longer is).

// agentSession returns the agent's participant in a contact as a session:
// the joined one if there is, otherwise the last it had.
func (s *Service) agentSession(ctx context.Context, agent store.Agent, contactID string) (*Session, error) {
	ps, err := s.store.Participants(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var mine *store.Participant
	for i, p := range ps {
		if p.AgentID != agent.ID {
			continue
		}
		if mine == nil || p.State == store.ParticipantJoined || (mine.State != store.ParticipantJoined && p.JoinedAt.After(mine.JoinedAt)) {
			mine = &ps[i]
		}
	}
	if mine == nil {
		return nil, errorf(AccessDenied, "You are not in this chat.")
	}
	c, err := s.store.Contact(ctx, contactID)
	if err != nil {
		return nil, err
	}
	return &Session{Participant: *mine, Contact: c}, nil
}

// AgentConnect opens a new connection for the agent's participant in a live
// chat, as CreateParticipantConnection does with its ParticipantToken: the
// console reopens the chats its agent holds without keeping their tokens.
func (s *Service) AgentConnect(ctx context.Context, agent store.Agent, contactID string) (Connection, error) {
	sess, err := s.agentSession(ctx, agent, contactID)
	if err != nil {
		return Connection{}, err
	}
	return s.connect(ctx, sess.Participant, true, true, true)
}

// AgentLeave takes the agent out of a chat it holds (closing one it
// abandoned in a tab long gone), as DisconnectParticipant does.
func (s *Service) AgentLeave(ctx context.Context, agent store.Agent, contactID string) error {
	sess, err := s.agentSession(ctx, agent, contactID)
	if err != nil {
		return err
	}
	return s.Disconnect(ctx, sess, "")
}

// MaxAgentTranscript bounds the items AgentTranscript returns.
const MaxAgentTranscript = 5000

// AgentTranscript returns the transcript of a chat the agent was in, oldest
// first, with each message's receipts, whether or not the chat has ended.
func (s *Service) AgentTranscript(ctx context.Context, agent store.Agent, contactID string) ([]store.Item, error) {
	if _, err := s.agentSession(ctx, agent, contactID); err != nil {
		return nil, err
	}
	var out []store.Item
	from := int64(0)
	for len(out) < MaxAgentTranscript {
		items, err := s.store.Transcript(ctx, contactID, from, true, 500)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) < 500 {
			break
		}
		from = items[len(items)-1].Seq + 1
	}
	if err := s.attachReceipts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// AgentAttachment returns a download URL of a file of a chat the agent was
// in, whether or not the chat has ended.
func (s *Service) AgentAttachment(ctx context.Context, agent store.Agent, contactID, fileID string) (url string, size int64, err error) {
	if err := s.attachmentsEnabled(); err != nil {
		return "", 0, err
	}
	sess, err := s.agentSession(ctx, agent, contactID)
	if err != nil {
		return "", 0, err
	}
	url, _, size, err = s.attachmentURL(ctx, sess, fileID, 5*time.Minute)
	return url, size, err
}

// AgentContact returns a chat the agent is or was in, and its participants.
func (s *Service) AgentContact(ctx context.Context, agent store.Agent, contactID string) (store.Contact, []store.Participant, error) {
	sess, err := s.agentSession(ctx, agent, contactID)
	if err != nil {
		return store.Contact{}, nil, err
	}
	ps, err := s.store.Participants(ctx, contactID)
	return sess.Contact, ps, err
}
