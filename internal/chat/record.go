package chat

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/store"
)

// Record is everything Parley holds of one contact, for an audit.
type Record struct {
	Contact      store.Contact
	Participants []store.Participant
	// Items is the whole transcript, oldest first, with each message's
	// receipts.
	Items []store.Item
	Files []store.File
	// Chain is the contacts this one's persistent chat continues, oldest
	// first (empty for a chat that continues none).
	Chain []string
}

// Record reads a contact's record. It is an administrator's read: no
// participant's session is involved.
func (s *Service) Record(ctx context.Context, contactID string) (Record, error) {
	var r Record
	var err error
	if r.Contact, err = s.store.Contact(ctx, contactID); errors.Is(err, store.ErrNotFound) {
		return r, errorf(NotFound, "Contact %s not found.", contactID)
	} else if err != nil {
		return r, err
	}
	if r.Participants, err = s.store.Participants(ctx, contactID); err != nil {
		return r, err
	}
	for from := int64(0); from != math.MaxInt64; {
		items, err := s.store.Transcript(ctx, contactID, from, true, 500)
		if err != nil {
			return r, err
		}
		if err := s.attachReceipts(ctx, items); err != nil {
			return r, err
		}
		r.Items = append(r.Items, items...)
		from = math.MaxInt64
		if len(items) == 500 {
			from = items[len(items)-1].Seq + 1
		}
	}
	if r.Files, err = s.store.Files(ctx, contactID); err != nil {
		return r, err
	}
	chain, err := s.chain(ctx, r.Contact)
	if err != nil {
		return r, err
	}
	for i := len(chain) - 1; i >= 1; i-- { // chain is newest first, this contact first of all
		r.Chain = append(r.Chain, chain[i])
	}
	return r, nil
}

// EndedContacts returns the contacts that ended in [after, before).
func (s *Service) EndedContacts(ctx context.Context, after, before time.Time) ([]string, error) {
	return s.store.EndedContacts(ctx, after, before)
}

// OpenFileBytes opens an attachment's bytes for an administrator; a file
// without bytes (rejected, deleted, never uploaded) is blob.ErrNotFound.
func (s *Service) OpenFileBytes(ctx context.Context, f store.File) (blob.File, error) {
	if s.cfg.Blobs == nil {
		return nil, blob.ErrNotFound
	}
	return s.cfg.Blobs.Open(ctx, f.ID)
}

// Tombstone says that a contact was erased, when and why.
type Tombstone struct {
	ContactID string
	ErasedAt  time.Time
	Reason    string
}

// Erase deletes everything Parley holds of a contact: it ends the chat if
// it lives (closing its sockets), deletes its attachment files and
// previews, then its items, participants, tokens and idempotency records,
// and leaves a tombstone. Erasing it again returns the first tombstone.
func (s *Service) Erase(ctx context.Context, contactID, reason string) (Tombstone, error) {
	return s.erase(ctx, contactID, reason, true)
}

// erase erases a contact; scrub also drops the backend's old page versions
// (one erasure on request does; retention's batches rely on secure delete
// and the log's normal turnover).
func (s *Service) erase(ctx context.Context, contactID, reason string, scrub bool) (Tombstone, error) {
	c, err := s.store.Contact(ctx, contactID)
	if errors.Is(err, store.ErrNotFound) {
		t, err := s.store.Tombstone(ctx, contactID)
		if errors.Is(err, store.ErrNotFound) {
			return Tombstone{}, errorf(NotFound, "Contact %s not found.", contactID)
		}
		return Tombstone{ContactID: t.ContactID, ErasedAt: t.At, Reason: t.Reason}, err
	}
	if err != nil {
		return Tombstone{}, err
	}
	if c.State != store.ContactEnded {
		if err := s.end(ctx, contactID, ReasonAPI, nil); err != nil && KindOf(err) != Ended {
			return Tombstone{}, err
		}
	}
	// The bytes go first: if this stops half way, the records still say
	// what to delete, and erasing again finishes the work.
	files, err := s.store.Files(ctx, contactID)
	if err != nil {
		return Tombstone{}, err
	}
	if s.cfg.Blobs != nil {
		for _, f := range files {
			if err := errors.Join(s.cfg.Blobs.Delete(ctx, thumbKey(f.ID)), s.cfg.Blobs.Delete(ctx, f.ID)); err != nil {
				return Tombstone{}, fmt.Errorf("erasing attachment %s: %w", f.ID, err)
			}
		}
	}
	t := store.Tombstone{ContactID: contactID, At: s.now(), Reason: reason}
	if _, err := s.store.Apply(ctx, &store.Change{Erase: &t}); err != nil {
		return Tombstone{}, err
	}
	// A backend that keeps old versions of pages (SQLite's WAL) drops them
	// now, so that nothing erased stays readable in its files.
	if scrub {
		if err := s.store.Scrub(ctx); err != nil {
			return Tombstone{}, fmt.Errorf("erased, but the database's old pages were not scrubbed yet: %w", err)
		}
	}
	s.log.Info("contact erased", "contact", contactID, "files", len(files))
	return Tombstone{ContactID: contactID, ErasedAt: t.At, Reason: reason}, nil
}

// expireChats erases the chats that ended longer than ChatRetention ago,
// leaving their tombstones (reason "retention").
func (s *Service) expireChats(ctx context.Context) error {
	if s.cfg.ChatRetention <= 0 {
		return nil
	}
	ids, err := s.store.EndedContacts(ctx, time.Unix(0, 0), s.now().Add(-s.cfg.ChatRetention))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.erase(ctx, id, "retention", false); err != nil && KindOf(err) != NotFound {
			return err
		}
	}
	s.cfg.Metrics.Pruned("chats", len(ids))
	return nil
}
