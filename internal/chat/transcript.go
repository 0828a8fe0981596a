package chat

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TranscriptQuery is a GetTranscript request. At most one start position is
// set; the wire layer checks that.
type TranscriptQuery struct {
	ContactID     string // "" or the session's contact
	MaxResults    int    // 0 means the default, 10
	NextToken     string
	ScanDirection string // "", FORWARD or BACKWARD
	SortOrder     string // "", ASCENDING or DESCENDING
	StartID       string
	StartTime     *time.Time
	MostRecent    *int
}

// TranscriptPage is one page of a transcript.
type TranscriptPage struct {
	InitialContactID string
	Items            []store.Item
	NextToken        string
}

// pageToken is the state a NextToken carries: where the next page starts.
type pageToken struct {
	ContactID string `json:"c"`
	From      int64  `json:"s"`
	Forward   bool   `json:"f"`
	// Part is which contact of a persistent chat's chain From is a seq of:
	// 0 the contact read, 1 the one it continues, and so on back.
	Part int `json:"i,omitempty"`
}

// DefaultMaxResults is GetTranscript's page size when MaxResults is absent.
const DefaultMaxResults = 10

// Transcript returns a page of the chat's transcript. Start positions are
// inclusive: the item named by StartPosition is on the page. Without a start
// position the scan goes backward from the newest item; with one, it goes
// forward unless told otherwise. Pages are ordered by SortOrder (default
// DESCENDING), and NextToken continues in the same direction.
func (s *Service) Transcript(ctx context.Context, sess *Session, q TranscriptQuery) (TranscriptPage, error) {
	page := TranscriptPage{InitialContactID: sess.Contact.InitialContactID}
	if err := s.Usable(ctx, sess); err != nil {
		return page, err
	}
	// A persistent chat's transcript carries the sessions it continues, and
	// ContactId may name any contact of that chain: the transcript then
	// reads from that contact back.
	chain, err := s.chain(ctx, sess.Contact)
	if err != nil {
		return page, err
	}
	contactID := sess.Contact.ID
	if q.ContactID != "" && q.ContactID != contactID {
		i := slices.Index(chain, q.ContactID)
		if i < 0 {
			return page, errorf(AccessDenied, "The participant is not part of contact %s.", q.ContactID)
		}
		contactID, chain = q.ContactID, chain[i:]
	}
	limit := q.MaxResults
	if limit == 0 {
		limit = DefaultMaxResults
	}
	hasStart := q.StartID != "" || q.StartTime != nil || q.MostRecent != nil

	var pos pageToken
	switch {
	case q.NextToken != "":
		payload, err := s.pages.Verify(q.NextToken)
		if err != nil || json.Unmarshal(payload, &pos) != nil || pos.ContactID != contactID || pos.Part < 0 || pos.Part >= len(chain) {
			return page, errorf(Invalid, "The NextToken is not valid for this transcript.")
		}
	case !hasStart:
		if q.ScanDirection == "FORWARD" {
			return page, errorf(Invalid, "ScanDirection FORWARD needs a StartPosition.")
		}
		pos = pageToken{ContactID: contactID, From: math.MaxInt64}
	default:
		pos = pageToken{ContactID: contactID, Forward: q.ScanDirection != "BACKWARD"}
		var err error
		switch {
		case q.StartID != "":
			var it store.Item
			it, err = s.chainItem(ctx, chain, q.StartID)
			if err == nil && !it.InTranscript {
				err = store.ErrNotFound
			}
			if errors.Is(err, store.ErrNotFound) {
				return page, errorf(Invalid, "StartPosition Id %s is not an item of this transcript.", q.StartID)
			}
			pos.From, pos.Part = it.Seq, slices.Index(chain, it.ContactID)
		case q.StartTime != nil:
			pos.Part, pos.From, err = s.chainSeqAt(ctx, chain, *q.StartTime, pos.Forward)
		case len(chain) == 1:
			pos.From, err = s.store.TranscriptNewest(ctx, contactID, *q.MostRecent)
		default:
			var newest []store.Item
			newest, err = s.chainTranscript(ctx, chain, pageToken{From: math.MaxInt64}, max(*q.MostRecent, 1))
			if err == nil && len(newest) == 0 {
				err = store.ErrNotFound
			}
			if err == nil {
				last := newest[len(newest)-1]
				pos.From, pos.Part = last.Seq, slices.Index(chain, last.ContactID)
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return page, nil // nothing at or beyond the start position
		}
		if err != nil {
			return page, err
		}
	}

	items, err := s.chainTranscript(ctx, chain, pos, limit+1)
	if err != nil {
		return page, err
	}
	if len(items) > limit {
		next, _ := json.Marshal(pageToken{ContactID: contactID, From: items[limit].Seq, Forward: pos.Forward,
			Part: slices.Index(chain, items[limit].ContactID)})
		page.NextToken = s.pages.Sign(next)
		items = items[:limit]
	}
	// Items come in scan order; the page is in SortOrder.
	if ascending := q.SortOrder == "ASCENDING"; ascending != pos.Forward {
		slices.Reverse(items)
	}
	if err := s.attachReceipts(ctx, items); err != nil {
		return page, err
	}
	page.Items = items
	return page, nil
}

// attachReceipts fills in the receipts of the messages on a page, as
// Connect returns them in each message's MessageMetadata.
func (s *Service) attachReceipts(ctx context.Context, items []store.Item) error {
	var ids []string
	for _, it := range items {
		if it.Type == TypeMessage || it.Type == TypeAttachment {
			ids = append(ids, it.ID)
		}
	}
	receipts, err := s.store.Receipts(ctx, ids)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].Receipts = receipts[items[i].ID]
	}
	return nil
}
