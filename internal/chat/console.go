package chat

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/secret"
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
	return s.transcriptItems(ctx, contactID)
}

// transcriptItems reads a whole transcript, with receipts.
func (s *Service) transcriptItems(ctx context.Context, contactID string) ([]store.Item, error) {
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

// SetAgentStatus sets the agent Available or Away, as in CCP: an Away agent
// is offered no chats (the console's queue is empty, Accept refuses).
func (s *Service) SetAgentStatus(ctx context.Context, agent store.Agent, status string) error {
	if status != store.AgentAvailable && status != store.AgentAway {
		return errorf(Invalid, "Status must be AVAILABLE or AWAY.")
	}
	_, err := s.store.Apply(ctx, &store.Change{AgentStatus: &store.AgentStatus{AgentID: agent.ID, Status: status}})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(AccessDenied, "Unknown agent.")
	}
	return err
}

// errAway refuses a chat to an agent who is Away.
var errAway = errorf(Conflict, "You are Away: set yourself Available to take chats.")

// Limits of canned responses.
const (
	MaxCannedText = 4096
)

var shortcutRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// CannedResponses lists the instance's canned responses, by shortcut.
func (s *Service) CannedResponses(ctx context.Context) ([]store.Canned, error) {
	return s.store.CannedResponses(ctx, s.cfg.InstanceID)
}

// AddCanned adds a canned response under a shortcut (lower-case letters,
// digits, - and _, up to 32), which agents type as /shortcut.
func (s *Service) AddCanned(ctx context.Context, shortcut, text string) (store.Canned, error) {
	shortcut = strings.ToLower(strings.TrimSpace(shortcut))
	text = strings.TrimSpace(text)
	if !shortcutRE.MatchString(shortcut) {
		return store.Canned{}, errorf(Invalid, "A shortcut is 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit.")
	}
	if n := utf8.RuneCountInString(text); n < 1 || n > MaxCannedText {
		return store.Canned{}, errorf(Invalid, "A canned response is 1 to %d characters.", MaxCannedText)
	}
	c := store.Canned{ID: secret.NewUUID(), InstanceID: s.cfg.InstanceID, Shortcut: shortcut, Text: text, CreatedAt: s.now()}
	_, err := s.store.Apply(ctx, &store.Change{NewCanned: &c})
	if errors.Is(err, store.ErrDuplicate) {
		return store.Canned{}, errorf(Conflict, "There is a canned response /%s already.", shortcut)
	}
	return c, err
}

// RemoveCanned deletes a canned response.
func (s *Service) RemoveCanned(ctx context.Context, id string) error {
	_, err := s.store.Apply(ctx, &store.Change{RemoveCanned: &store.CannedKey{InstanceID: s.cfg.InstanceID, ID: id}})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(NotFound, "There is no such canned response.")
	}
	return err
}

// CustomerIDAttribute is the contact attribute that names the customer
// across chats: the console lists a customer's past chats by it.
const CustomerIDAttribute = "CustomerId"

// PastChat is an earlier chat of the same customer.
type PastChat struct {
	Contact store.Contact
	Preview string // the start of the customer's first message
}

// maxPastChain bounds how far back the console follows a persistent chain.
const maxPastChain = 20

// PastChats returns the other chats of the customer of a chat the agent is
// or was in, newest first: those it continues as a persistent chat (each
// ContinuedFromID back), and those with its CustomerId attribute (set
// through the Connect API; what a browser supplies never counts).
func (s *Service) PastChats(ctx context.Context, agent store.Agent, contactID string) ([]PastChat, error) {
	sess, err := s.agentSession(ctx, agent, contactID)
	if err != nil {
		return nil, err
	}
	var cs []store.Contact
	for c, n := sess.Contact, 0; c.ContinuedFromID != "" && n < maxPastChain; n++ {
		if c, err = s.store.Contact(ctx, c.ContinuedFromID); errors.Is(err, store.ErrNotFound) {
			break // erased
		} else if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if customer := sess.Contact.Attributes[CustomerIDAttribute]; customer != "" {
		more, err := s.store.ContactsWithAttribute(ctx, CustomerIDAttribute, customer, 21)
		if err != nil {
			return nil, err
		}
		cs = append(cs, more...)
	}
	slices.SortStableFunc(cs, func(a, b store.Contact) int { return b.CreatedAt.Compare(a.CreatedAt) })
	seen := map[string]bool{contactID: true}
	var out []PastChat
	for _, c := range cs {
		if seen[c.ID] || c.InstanceID != s.cfg.InstanceID {
			continue
		}
		seen[c.ID] = true
		cust, err := s.customerOf(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		preview, err := s.firstMessage(ctx, c.ID, cust)
		if err != nil {
			return nil, err
		}
		out = append(out, PastChat{Contact: c, Preview: preview})
	}
	return out, nil
}

// PastTranscript returns the transcript of a past chat of the customer of a
// chat the agent is or was in.
func (s *Service) PastTranscript(ctx context.Context, agent store.Agent, contactID, pastID string) ([]store.Item, error) {
	past, err := s.PastChats(ctx, agent, contactID)
	if err != nil {
		return nil, err
	}
	for _, p := range past {
		if p.Contact.ID == pastID {
			return s.transcriptItems(ctx, pastID)
		}
	}
	return nil, errorf(AccessDenied, "That chat is not one of this customer's.")
}

// SearchMessages searches the messages of the chats the agent was in.
func (s *Service) SearchMessages(ctx context.Context, agent store.Agent, text string) ([]store.AgentMessage, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n < 2 || n > 100 {
		return nil, errorf(Invalid, "Search for 2 to 100 characters.")
	}
	return s.store.SearchAgentMessages(ctx, agent.ID, text, 25)
}
