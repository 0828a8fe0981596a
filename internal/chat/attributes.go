package chat

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// MaxAttributesBytes is Connect's limit on all of a contact's attributes
// together: "up to 32,768 UTF-8 bytes across all attributes for a contact"
// (UpdateContactAttributes and StartChatContact, API reference).
const MaxAttributesBytes = 32768

// attributesRetention is how long Connect keeps a contact's attributes:
// "Contact attributes are available in Amazon Connect for 24 months, and are
// then deleted" (UpdateContactAttributes); the contact record is kept "24
// months from the time the associated contact was initiated" (service
// quotas, feature specifications).
const attributesRetention = 2 * 365 * 24 * time.Hour

// ContactAttributes returns a contact's attributes (GetContactAttributes),
// also after the contact ended.
func (s *Service) ContactAttributes(ctx context.Context, instanceID, initialContactID string) (map[string]string, error) {
	c, err := s.attributesContact(ctx, instanceID, initialContactID)
	if err != nil {
		return nil, err
	}
	if c.Attributes == nil {
		return map[string]string{}, nil
	}
	return c.Attributes, nil
}

// UpdateAttributes creates or updates a contact's attributes
// (UpdateContactAttributes): ongoing and ended contacts alike, as Connect
// allows, within the 32 KB of all attributes together. Agents in the chat see
// the new attributes in the console.
func (s *Service) UpdateAttributes(ctx context.Context, instanceID, initialContactID string, set map[string]string) error {
	c, err := s.attributesContact(ctx, instanceID, initialContactID)
	if err != nil {
		return err
	}
	_, err = s.store.Apply(ctx, &store.Change{Attributes: &store.MergeAttributes{
		ContactID: c.ID, Set: set, MaxBytes: MaxAttributesBytes, At: s.now()}})
	switch {
	case errors.Is(err, store.ErrTooLarge):
		return errorf(Invalid, "The contact's attributes would total more than %d bytes; at most %d UTF-8 bytes are allowed across all attributes.",
			MaxAttributesBytes, MaxAttributesBytes)
	case errors.Is(err, store.ErrNotFound):
		return errorf(NotFound, "Contact %s not found.", initialContactID)
	}
	return err
}

// attributesContact finds a contact whose attributes Connect still keeps.
func (s *Service) attributesContact(ctx context.Context, instanceID, contactID string) (store.Contact, error) {
	c, _, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return c, err
	}
	if s.now().Sub(c.CreatedAt) > attributesRetention {
		return c, errorf(NotFound, "Contact %s not found: its attributes were deleted 24 months after it started.", contactID)
	}
	return c, nil
}
