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

// Agents lists the console agents, by name.
func (s *Service) Agents(ctx context.Context) ([]store.Agent, error) {
	return s.store.Agents(ctx)
}

// RemoveAgent deletes a console agent: its key stops working at once, on a
// running server too (keys are looked up on every request, never cached).
// The chats it holds go on; their participant tokens are the chats'.
func (s *Service) RemoveAgent(ctx context.Context, name string) error {
	_, err := s.store.Apply(ctx, &store.Change{RemoveAgent: strings.TrimSpace(name)})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(NotFound, "There is no agent named %s.", name)
	}
	return err
}

// RotateAgentKey gives an agent a new key, shown this once; the old one
// stops working at once.
func (s *Service) RotateAgentKey(ctx context.Context, name string) (key string, err error) {
	key = secret.NewToken()
	_, err = s.store.Apply(ctx, &store.Change{AgentKey: &store.AgentKey{Name: strings.TrimSpace(name), KeyHash: secret.Hash(key)}})
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(NotFound, "There is no agent named %s.", name)
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
	if agent.Status == store.AgentAway { // a quick refusal; the change's limit holds it
		return AddParticipantOutput{}, errAway
	}
	if countRole(active, RoleAgent) >= MaxAgentChats { // a quick refusal; addParticipant's change holds the limit
		return AddParticipantOutput{}, errAgentQuota
	}
	return s.addParticipant(ctx, s.cfg.InstanceID, contactID, RoleAgent, agent.Name, "", agent.ID)
}
