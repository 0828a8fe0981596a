package chat

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// ReasonNotConnected is the DisconnectReason of a chat that ended because
// its customer never (or no longer) held a connection while it waited, the
// reason Amazon Connect records for such chats.
const ReasonNotConnected = "CUSTOMER_CONNECTION_NOT_ESTABLISHED"

// ErrQueueFull refuses a chat that would exceed its flow's ceiling on
// waiting chats (StartChatInput.MaxQueued).
var ErrQueueFull = errorf(QuotaExceeded, "All our agents are busy and too many people are waiting already. Please try again in a few minutes.")

// QueuedChat is a chat waiting for an agent.
type QueuedChat struct {
	Contact  store.Contact
	Customer store.Participant
	// Preview is the start of the customer's first message, "" before one.
	Preview string
}

// PreviewLength is how many characters of a waiting chat's first message
// the queue shows.
const PreviewLength = 140

// QueuePage is one page of the queue: every waiting chat is on some page.
type QueuePage struct {
	Chats     []QueuedChat
	Total     int    // chats waiting in all
	NextToken string // "" on the last page
}

// MaxQueuePage bounds a page of the queue.
const MaxQueuePage = 100

// Queue returns a page of the chats waiting for an agent, oldest first,
// from the position token names ("" for the first page).
func (s *Service) Queue(ctx context.Context, token string, limit int) (QueuePage, error) {
	var page QueuePage
	if limit < 1 || limit > MaxQueuePage {
		return page, errorf(Invalid, "A page of the queue holds 1 to %d chats.", MaxQueuePage)
	}
	q := store.QueueQuery{Limit: limit + 1}
	if token != "" {
		var ok bool
		if q.AfterCreated, q.AfterID, ok = parseQueueToken(token); !ok {
			return page, errorf(Invalid, "The queue page token is not valid.")
		}
	}
	contacts, err := s.store.QueuedContacts(ctx, q)
	if err != nil {
		return page, err
	}
	if len(contacts) > limit {
		contacts = contacts[:limit]
		last := contacts[limit-1]
		page.NextToken = queueToken(last.CreatedAt, last.ID)
	}
	if page.Total, err = s.store.CountQueued(ctx, ""); err != nil {
		return page, err
	}
	now := s.now()
	for _, c := range contacts {
		if c.Ended(now) {
			continue // its timer ends it now
		}
		ps, err := s.store.Participants(ctx, c.ID)
		if err != nil {
			return page, err
		}
		for _, p := range ps {
			if p.Role == RoleCustomer {
				preview, err := s.firstMessage(ctx, c.ID, p.ID)
				if err != nil {
					return page, err
				}
				page.Chats = append(page.Chats, QueuedChat{Contact: c, Customer: p, Preview: preview})
				break
			}
		}
	}
	return page, nil
}

// A queue token is a position, not a secret: it says where the last page
// ended, and anyone who may read the queue may read from anywhere in it.
func queueToken(created time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixMilli(), 10) + " " + id))
}

func parseQueueToken(token string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return time.Time{}, "", false
	}
	msStr, id, ok := strings.Cut(string(b), " ")
	ms, err := strconv.ParseInt(msStr, 10, 64)
	if !ok || err != nil || ms < 0 || id == "" {
		return time.Time{}, "", false
	}
	return time.UnixMilli(ms).UTC(), id, true
}

// AbandonWatch ends queued chats of one flow whose customer has had no
// websocket open for a while: a page that was closed, or a script that
// starts chats and never connects, would otherwise wait in the queue until
// the chat's duration runs out. Presence is sampled every Sweep, so a chat
// ends between After and After+Sweep after its customer's last socket.
// The watch counts from its own start for chats already queued (as the idle
// timers count again after a restart).
type AbandonWatch struct {
	FlowID  string
	After   time.Duration
	Sweep   time.Duration
	Present func(participantID string) bool // has the participant a socket open now?

	started  time.Time
	lastSeen map[string]time.Time // contact id → when its customer last had a socket
}

// Run sweeps until ctx is done.
func (w *AbandonWatch) Run(ctx context.Context, s *Service) {
	t := time.NewTicker(w.Sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := w.sweep(ctx, s); err != nil && ctx.Err() == nil {
			s.log.Error("ending abandoned queued chats", "err", err)
		}
	}
}

// sweep looks at every queued chat of the flow once.
func (w *AbandonWatch) sweep(ctx context.Context, s *Service) error {
	now := s.now()
	if w.lastSeen == nil {
		w.started, w.lastSeen = now, map[string]time.Time{}
	}
	seen := make(map[string]time.Time, len(w.lastSeen))
	q := store.QueueQuery{FlowID: w.FlowID, Limit: 500}
	for {
		contacts, err := s.store.QueuedContacts(ctx, q)
		if err != nil {
			return err
		}
		for _, c := range contacts {
			last, ok := w.lastSeen[c.ID]
			if !ok {
				last = c.CreatedAt
				if last.Before(w.started) {
					last = w.started
				}
			}
			customer, err := s.customerOf(ctx, c.ID)
			if err != nil {
				return err
			}
			if w.Present(customer) {
				last = now
			}
			if now.Sub(last) < w.After {
				seen[c.ID] = last
				continue
			}
			if err := s.endAbandoned(ctx, c.ID); err != nil {
				return err
			}
		}
		if len(contacts) < q.Limit {
			break
		}
		last := contacts[len(contacts)-1]
		q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
	}
	w.lastSeen = seen
	return nil
}

func (s *Service) customerOf(ctx context.Context, contactID string) (string, error) {
	ps, err := s.store.Participants(ctx, contactID)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Role == RoleCustomer {
			return p.ID, nil
		}
	}
	return "", nil
}

// endAbandoned ends a chat as StopContact does (the same chat.ended item,
// so that ChatJS and the widget see the chat end), unless an agent joined it
// meanwhile.
func (s *Service) endAbandoned(ctx context.Context, contactID string) error {
	_, err := s.store.Apply(ctx, &store.Change{
		Items: []store.Item{endedItem(contactID)},
		End:   &store.End{ContactID: contactID, At: s.now(), Reason: ReasonNotConnected, OnlyQueued: true},
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrEnded) {
		return nil // accepted or ended meanwhile
	}
	if err != nil {
		return fmt.Errorf("ending chat %s: %w", contactID, err)
	}
	s.log.Info("ended a queued chat whose customer had no connection", "contact", contactID)
	return nil
}

// endNotConnected ends a chat whose customer created no participant
// connection within Config.ConnectWithin of its start, unless one has been
// created meanwhile (store.End.OnlyNotConnected).
func (s *Service) endNotConnected(ctx context.Context, contactID string) error {
	_, err := s.store.Apply(ctx, &store.Change{
		Items: []store.Item{endedItem(contactID)},
		End:   &store.End{ContactID: contactID, At: s.now(), Reason: ReasonNotConnected, OnlyNotConnected: true},
	})
	if err != nil {
		return err // a conflict or an end meanwhile is no error to applyDue
	}
	s.log.Info("ended a chat whose customer never connected", "contact", contactID)
	return nil
}

// firstMessage returns the start of a participant's first message, looking
// at the first few items only (a queued chat has few).
func (s *Service) firstMessage(ctx context.Context, contactID, participantID string) (string, error) {
	items, err := s.store.Transcript(ctx, contactID, 0, true, 20)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		if it.Type == TypeMessage && it.ParticipantID == participantID {
			if r := []rune(it.Content); len(r) > PreviewLength {
				return string(r[:PreviewLength]) + "…", nil
			}
			return it.Content, nil
		}
	}
	return "", nil
}

// QueuePosition returns where a waiting chat stands in the queue (1 is
// next) and how many wait in all; position 0 when it waits no more.
func (s *Service) QueuePosition(ctx context.Context, contactID string) (position, total int, err error) {
	if total, err = s.store.CountQueued(ctx, ""); err != nil {
		return 0, 0, err
	}
	q := store.QueueQuery{Limit: 500}
	for n := 0; n < 20; n++ { // 10,000 ahead is far enough to say "many"
		contacts, err := s.store.QueuedContacts(ctx, q)
		if err != nil {
			return 0, 0, err
		}
		for i, c := range contacts {
			if c.ID == contactID {
				return n*q.Limit + i + 1, total, nil
			}
		}
		if len(contacts) < q.Limit {
			return 0, total, nil
		}
		last := contacts[len(contacts)-1]
		q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
	}
	return 0, total, nil
}

// QueueLength counts the chats waiting for an agent.
func (s *Service) QueueLength(ctx context.Context) (int, error) {
	return s.store.CountQueued(ctx, "")
}
