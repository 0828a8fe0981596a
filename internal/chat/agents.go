package chat

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// MaxAgentChats is how many chats an agent holds at once, as on Connect.
const MaxAgentChats = 10

// AddAgent creates a console agent and returns the key it signs in with.
// Only the key's hash is kept: the key is shown this once.
func (s *Service) AddAgent(ctx context.Context, name string) (key string, err error) {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 64 {
		return "", errorf(Invalid, "An agent's name is 1 to 64 characters.")
	}
	key = secret.NewToken()
	_, err = s.store.Apply(ctx, &store.Change{NewAgent: &store.Agent{
		ID: secret.NewUUID(), Name: name, KeyHash: secret.Hash(key), CreatedAt: s.now()}})
	if errors.Is(err, store.ErrDuplicate) {
		return "", errorf(Invalid, "There is an agent named %s already.", name)
	}
	return key, err
}

// AuthenticateAgent resolves an agent's key.
func (s *Service) AuthenticateAgent(ctx context.Context, key string) (store.Agent, error) {
	a, err := s.store.AgentByKey(ctx, secret.Hash(key))
	if errors.Is(err, store.ErrNotFound) {
		return a, errorf(AccessDenied, "Unknown agent key.")
	}
	return a, err
}

// QueuedChat is a chat waiting for an agent.
type QueuedChat struct {
	Contact  store.Contact
	Customer store.Participant
}

// Queue lists the chats waiting for an agent, oldest first.
func (s *Service) Queue(ctx context.Context) ([]QueuedChat, error) {
	contacts, err := s.store.QueuedContacts(ctx, 100)
	if err != nil {
		return nil, err
	}
	var q []QueuedChat
	now := s.now()
	for _, c := range contacts {
		if c.Ended(now) {
			continue
		}
		ps, err := s.store.Participants(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			if p.Role == RoleCustomer {
				q = append(q, QueuedChat{Contact: c, Customer: p})
				break
			}
		}
	}
	return q, nil
}

// AgentChats returns the agent's participants in live chats.
func (s *Service) AgentChats(ctx context.Context, agent store.Agent) ([]store.Participant, error) {
	return s.store.AgentParticipants(ctx, agent.ID)
}

// Accept joins an agent to a queued chat; only one agent can accept it, and
// an agent holds at most MaxAgentChats chats.
func (s *Service) Accept(ctx context.Context, agent store.Agent, contactID string) (AddParticipantOutput, error) {
	active, err := s.store.AgentParticipants(ctx, agent.ID)
	if err != nil {
		return AddParticipantOutput{}, err
	}
	if len(active) >= MaxAgentChats { // a quick refusal; addParticipant's change holds the limit
		return AddParticipantOutput{}, errAgentQuota
	}
	return s.addParticipant(ctx, s.cfg.InstanceID, contactID, RoleAgent, agent.Name, "", agent.ID)
}
