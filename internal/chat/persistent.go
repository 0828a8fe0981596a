package chat

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Rehydration types of persistent chat (PersistentChat.RehydrationType).
const (
	RehydrationEntire  = "ENTIRE_PAST_SESSION"
	RehydrationSegment = "FROM_SEGMENT"
)

// EventChatRehydrated tells a persistent chat's customer that the past
// transcript is there; ChatJS raises onChatRehydrated for it.
const EventChatRehydrated = eventPrefix + "chat.rehydrated"

// maxChain bounds how far a transcript reads back along persistent chats.
const maxChain = 100

// Persistence is a StartChatContact's PersistentChat.
type Persistence struct {
	RehydrationType string
	SourceContactID string
}

// rehydrationSource resolves the contact a persistent chat continues, as
// the API reference describes the rehydration types: FROM_SEGMENT takes
// the contact named; ENTIRE_PAST_SESSION takes the initial contact of a
// past session and continues its most recently ended contact. A Parley
// chat session is one contact (transfers keep the contact), so that is the
// contact itself. Only ended chats can be rehydrated (admin guide, "Enable
// persistent chat").
func (s *Service) rehydrationSource(ctx context.Context, instanceID string, p Persistence) (store.Contact, error) {
	src, _, err := s.Contact(ctx, instanceID, p.SourceContactID)
	if err != nil {
		return src, err
	}
	if src.State != store.ContactEnded {
		return src, errorf(Invalid, "The source contact has not ended: only chat sessions that have ended can be rehydrated.")
	}
	if p.RehydrationType == RehydrationEntire && src.InitialContactID != src.ID {
		return src, errorf(Invalid, "SourceContactId %s is not the initial contact of a chat session, which %s needs.", src.ID, RehydrationEntire)
	}
	return src, nil
}

var errSourceUsed = func(id string) error {
	return errorf(Invalid, "Contact %s has already been used to start a persistent chat.", id)
}

// PersistOutput is what CreatePersistentContactAssociation returns.
type PersistOutput struct{ ContinuedFromContactID string }

// Persist makes a live chat continue an ended one
// (CreatePersistentContactAssociation): its transcript then carries the
// past session, and its participants get chat.rehydrated.
func (s *Service) Persist(ctx context.Context, instanceID, contactID string, p Persistence, clientToken string) (PersistOutput, error) {
	var out PersistOutput
	c, _, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return out, err
	}
	scope := "persist:" + contactID
	if ok, err := s.idempotent(ctx, scope, clientToken, &out); ok || err != nil {
		return out, err
	}
	if c.State == store.ContactEnded {
		return out, errorf(Invalid, "Contact %s has ended; persistent chat is enabled on a live chat.", contactID)
	}
	if c.ContinuedFromID != "" {
		return out, errorf(Invalid, "Contact %s continues contact %s already.", contactID, c.ContinuedFromID)
	}
	src, err := s.rehydrationSource(ctx, instanceID, p)
	if err != nil {
		return out, err
	}
	if src.ID == contactID {
		return out, errorf(Invalid, "A contact cannot continue itself.")
	}
	out.ContinuedFromContactID = src.ID
	ch := &store.Change{
		RequireActive:       contactID,
		Idempotency:         s.idempotencyRecord(scope, contactID, clientToken, out),
		Persist:             &store.Persist{ContactID: contactID, SourceID: src.ID, RehydrationType: p.RehydrationType, At: s.now()},
		AnnounceRehydration: contactID,
		Items:               []store.Item{rehydratedItem(contactID)},
	}
	_, err = s.store.Apply(ctx, ch)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		_, err = s.idempotent(ctx, scope, clientToken, &out)
		return out, err
	case errors.Is(err, store.ErrEnded):
		return PersistOutput{}, errorf(Invalid, "Contact %s has ended; persistent chat is enabled on a live chat.", contactID)
	case errors.Is(err, store.ErrConflict):
		return PersistOutput{}, errSourceUsed(src.ID)
	case err != nil:
		return PersistOutput{}, err
	}
	return out, nil
}

func rehydratedItem(contactID string) store.Item {
	return store.Item{
		ID: secret.NewTimeUUID(), ContactID: contactID, Type: TypeEvent, ContentType: EventChatRehydrated,
		Role: RoleSystem, InTranscript: true,
	}
}

// SocketOpened is called once a participant's websocket follows the chat.
// A persistent chat started with its past session announces
// chat.rehydrated then, once, so that the customer's ChatJS, which can
// only hear it on its socket, raises onChatRehydrated.
func (s *Service) SocketOpened(ctx context.Context, sess *Session) {
	c := sess.Contact
	if c.ContinuedFromID == "" || c.RehydrationAnnounced || sess.Participant.Role != RoleCustomer {
		return
	}
	_, err := s.store.Apply(ctx, &store.Change{
		RequireActive:       c.ID,
		AnnounceRehydration: c.ID,
		Items:               []store.Item{rehydratedItem(c.ID)},
	})
	if err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrEnded) {
		s.log.Error("announcing chat.rehydrated", "contact", c.ID, "err", err)
	}
}

// chain returns a contact and, newest first, the contacts its persistent
// chat continues.
func (s *Service) chain(ctx context.Context, c store.Contact) ([]string, error) {
	ids := []string{c.ID}
	for next := c.ContinuedFromID; next != "" && len(ids) < maxChain && !slices.Contains(ids, next); {
		k, err := s.store.Contact(ctx, next)
		if errors.Is(err, store.ErrNotFound) {
			break // erased: the chain stops there
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, k.ID)
		next = k.ContinuedFromID
	}
	return ids, nil
}

// chainTranscript reads a page of a persistent chat's transcript from a
// position: the contacts it continues come before it, oldest first, each
// in its own seq order (a store orders items within a chat, not between
// chats). chain is newest first, as chain returns it.
func (s *Service) chainTranscript(ctx context.Context, chain []string, pos pageToken, limit int) ([]store.Item, error) {
	var out []store.Item
	from := pos.From
	for part := pos.Part; part >= 0 && part < len(chain) && len(out) < limit; {
		items, err := s.store.Transcript(ctx, chain[part], from, pos.Forward, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if pos.Forward {
			part, from = part-1, 0 // on to the newer contact, from its start
		} else {
			part, from = part+1, math.MaxInt64 // back to the older one, from its end
		}
	}
	return out, nil
}

// chainSeqAt is TranscriptSeqAt over a chain: the first item at or after
// t, searching from the oldest contact, or the last at or before t,
// searching from the newest.
func (s *Service) chainSeqAt(ctx context.Context, chain []string, t time.Time, forward bool) (part int, seq int64, err error) {
	for i := range chain {
		part = i
		if forward {
			part = len(chain) - 1 - i
		}
		seq, err = s.store.TranscriptSeqAt(ctx, chain[part], t, forward)
		if !errors.Is(err, store.ErrNotFound) {
			return part, seq, err
		}
	}
	return 0, 0, store.ErrNotFound
}

// chainItem finds a transcript item in any contact of a chain.
func (s *Service) chainItem(ctx context.Context, ids []string, itemID string) (store.Item, error) {
	for _, id := range ids {
		it, err := s.store.Item(ctx, id, itemID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		return it, err
	}
	return store.Item{}, store.ErrNotFound
}
