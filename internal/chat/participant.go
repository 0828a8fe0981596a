package chat

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Session is an authenticated participant and its chat.
type Session struct {
	Participant store.Participant
	Contact     store.Contact
	// stale: from AuthenticateCached, which may have served it from a
	// cache that other processes' writes made stale.
	stale bool
}

// sessionCache is a store that serves sessions from memory (cache.Store).
type sessionCache interface {
	CachedSession(ctx context.Context, participantID string) (store.Participant, store.Contact, bool, error)
	DropSession(participantID string)
}

// errStale is what the fast path of an operation on a stale session
// returns when it cannot decide: the operation then reads the session
// afresh and decides as it always did.
var errStale = errors.New("chat: stale session")

// Usable reports why the session can no longer act (left, or the chat
// ended), or nil.
func (s *Service) Usable(ctx context.Context, sess *Session) error {
	if sess.Participant.State == store.ParticipantLeft {
		return errLeft
	}
	if _, err := s.activeContact(ctx, sess.Contact.ID); err != nil {
		if KindOf(err) == Ended {
			return errParticipantEnded
		}
		return err
	}
	return nil
}

// Authenticate resolves a ConnectionToken. It succeeds for a participant who
// has left or whose chat ended, so that retries of their last requests can be
// answered; each operation then refuses new work.
func (s *Service) Authenticate(ctx context.Context, connectionToken string) (*Session, error) {
	t, err := s.connectionToken(ctx, connectionToken)
	if err != nil {
		return nil, err
	}
	return s.session(ctx, t.ParticipantID)
}

// connectionToken finds an unexpired ConnectionToken.
func (s *Service) connectionToken(ctx context.Context, connectionToken string) (store.ConnectionToken, error) {
	t, err := s.store.ConnectionToken(ctx, secret.Hash(connectionToken))
	if errors.Is(err, store.ErrNotFound) {
		return t, errAccessDenied
	}
	if err != nil {
		return t, err
	}
	if !s.now().Before(t.Expires) {
		return t, errorf(AccessDenied, "The connection token has expired.")
	}
	return t, nil
}

// AuthenticateCached is Authenticate for SendMessage alone: it may answer
// from memory, with a session that other processes' writes made stale.
// SendMessage then decides from it only what the committing transaction
// confirms (store.Expect), and decides anything else from a fresh read.
func (s *Service) AuthenticateCached(ctx context.Context, connectionToken string) (*Session, error) {
	sc, ok := s.store.(sessionCache)
	if !ok {
		return s.Authenticate(ctx, connectionToken)
	}
	t, err := s.connectionToken(ctx, connectionToken)
	if err != nil {
		return nil, err
	}
	p, c, stale, err := sc.CachedSession(ctx, t.ParticipantID)
	if err != nil {
		return nil, err
	}
	return &Session{Participant: p, Contact: c, stale: stale}, nil
}

// refresh reads a stale session afresh.
func (s *Service) refresh(ctx context.Context, sess *Session) (*Session, error) {
	sc := s.store.(sessionCache) // only such a store makes stale sessions
	sc.DropSession(sess.Participant.ID)
	p, c, _, err := sc.CachedSession(ctx, sess.Participant.ID)
	if err != nil {
		return nil, err
	}
	return &Session{Participant: p, Contact: c}, nil
}

// expect is what a change decided from sess relies on, for the committing
// transaction to check.
func expect(sess *Session) *store.Expect {
	p := sess.Participant
	return &store.Expect{ParticipantID: p.ID, ContactID: p.ContactID, Idle: p.Idle, IdleAt: p.IdleAt,
		DisconnectAt: p.DisconnectAt, Timers: sess.Contact.Timers[p.Role]}
}

func (s *Service) session(ctx context.Context, participantID string) (*Session, error) {
	p, c, err := s.store.Session(ctx, participantID)
	if err != nil {
		return nil, err
	}
	return &Session{Participant: p, Contact: c}, nil
}

// Connection is what CreateParticipantConnection returns.
type Connection struct {
	WebsocketURL    string // "" unless a websocket was asked for
	WebsocketExpiry time.Time
	ConnectionToken string // "" unless credentials were asked for
	TokenExpiry     time.Time
}

// SocketGrant is what a websocket URL's token grants: the participant whose
// socket it is, until when it may be opened, and until when it may live.
type SocketGrant struct {
	ParticipantID string    `json:"p"`
	ContactID     string    `json:"c"`
	OpenBy        time.Time `json:"o"`
	Expires       time.Time `json:"e"`
}

// socketOpenWindow is how long a websocket URL may wait before it is opened.
const socketOpenWindow = 100 * time.Second

// ParticipantID resolves a ParticipantToken, so that a caller can be
// refused, or rate-limited, before its request is read.
func (s *Service) ParticipantID(ctx context.Context, participantToken string) (string, error) {
	p, err := s.store.ParticipantByToken(ctx, secret.Hash(participantToken))
	if errors.Is(err, store.ErrNotFound) {
		return "", errAccessDenied
	}
	return p.ID, err
}

// Connect creates a participant connection. With acknowledge (ConnectParticipant)
// the participant is marked connected.
func (s *Service) Connect(ctx context.Context, participantToken string, websocket, credentials, acknowledge bool) (Connection, error) {
	var out Connection
	p, err := s.store.ParticipantByToken(ctx, secret.Hash(participantToken))
	if errors.Is(err, store.ErrNotFound) {
		return out, errAccessDenied
	}
	if err != nil {
		return out, err
	}
	return s.connect(ctx, p, websocket, credentials, acknowledge)
}

// connect is Connect for a participant already resolved.
func (s *Service) connect(ctx context.Context, p store.Participant, websocket, credentials, acknowledge bool) (Connection, error) {
	var out Connection
	sess, err := s.session(ctx, p.ID)
	if err != nil {
		return out, err
	}
	if err := s.Usable(ctx, sess); err != nil {
		return out, err
	}
	now := s.now()
	expiry := now.Add(s.cfg.ConnectionTTL)
	ch := &store.Change{RequireActive: p.ContactID}
	if credentials {
		out.ConnectionToken = secret.NewToken()
		out.TokenExpiry = expiry
		ch.Tokens = append(ch.Tokens, store.ConnectionToken{Hash: secret.Hash(out.ConnectionToken), ParticipantID: p.ID, Expires: expiry})
	}
	if websocket {
		grant, _ := json.Marshal(SocketGrant{ParticipantID: p.ID, ContactID: p.ContactID, OpenBy: now.Add(socketOpenWindow), Expires: expiry})
		out.WebsocketURL = s.cfg.WebsocketURL(s.sockets.Sign(grant))
		out.WebsocketExpiry = expiry
	}
	if acknowledge && !p.Connected && silent(p) {
		ch.Acknowledge = []string{p.ID} // no event: nobody hears of a silent monitor
	} else if acknowledge && !p.Connected {
		ch.Acknowledge = []string{p.ID}
		ch.Items = []store.Item{{
			ID: secret.NewTimeUUID(), ContactID: p.ContactID, ParticipantID: p.ID, Type: TypeEvent,
			ContentType: EventConnectionAck, DisplayName: p.DisplayName, Role: p.Role,
		}}
	}
	if p.Role == RoleCustomer && !sess.Contact.ConnectBy.IsZero() {
		ch.Subscribed = p.ContactID // the chat no longer ends for want of a connection
	}
	if len(ch.Tokens) == 0 && len(ch.Items) == 0 && len(ch.Acknowledge) == 0 && ch.Subscribed == "" {
		return out, nil
	}
	if _, err := s.store.Apply(ctx, ch); err != nil {
		if errors.Is(err, store.ErrEnded) {
			return Connection{}, errParticipantEnded
		}
		return Connection{}, err
	}
	return out, nil
}

// VerifySocketToken checks a websocket URL's token and returns its grant.
func (s *Service) VerifySocketToken(token string) (SocketGrant, error) {
	var g SocketGrant
	payload, err := s.sockets.Verify(token)
	if err != nil || json.Unmarshal(payload, &g) != nil {
		return g, errAccessDenied
	}
	return g, nil
}

// ItemsFrom returns a chat's items from seq from on, for a websocket
// follower that missed some.
func (s *Service) ItemsFrom(ctx context.Context, contactID string, from int64, limit int) ([]store.Item, error) {
	return s.store.ItemsFrom(ctx, contactID, from, limit)
}

// LastSeqs returns the newest seq of each chat: what the gateway's hub
// compares with what it delivered.
func (s *Service) LastSeqs(ctx context.Context, contactIDs []string) (map[string]int64, error) {
	return s.store.LastSeqs(ctx, contactIDs)
}

// SocketSession returns the session a websocket grant is for, if the
// participant may still receive the chat.
func (s *Service) SocketSession(ctx context.Context, g SocketGrant) (*Session, error) {
	sess, err := s.session(ctx, g.ParticipantID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sess.Contact.ID != g.ContactID) {
		return nil, errAccessDenied
	}
	if err != nil {
		return nil, err
	}
	if err := s.Usable(ctx, sess); err != nil {
		return nil, err
	}
	return sess, nil
}

// LeftUnheard reports whether a participant left its chat as a silent
// monitor: it leaves without a participant.left item, so nothing tells its
// websocket to close, and the gateway asks before sending to one.
func (s *Service) LeftUnheard(ctx context.Context, participantID string) (bool, error) {
	p, err := s.store.Participant(ctx, participantID)
	if err != nil {
		return false, err
	}
	return p.State == store.ParticipantLeft && silent(p), nil
}

// notUsable returns the error for a session that can no longer act, unless
// the request is a retry of one that took effect before: then its first
// result is the answer. Checking for a retry only here (and when an insert
// collides, in commitItem) keeps a lookup off every request.
func (s *Service) notUsable(ctx context.Context, sess *Session, clientToken string) (store.Item, bool, error) {
	err := s.Usable(ctx, sess)
	if err == nil {
		return store.Item{}, false, nil
	}
	if it, ok, rerr := s.replay(ctx, sess, clientToken); ok || rerr != nil {
		return it, true, rerr
	}
	return store.Item{}, true, err
}

// replay returns the item a participant already created with clientToken.
func (s *Service) replay(ctx context.Context, sess *Session, clientToken string) (store.Item, bool, error) {
	if clientToken == "" {
		return store.Item{}, false, nil
	}
	it, err := s.store.ItemByClientToken(ctx, sess.Participant.ID, clientToken)
	if errors.Is(err, store.ErrNotFound) {
		return it, false, nil
	}
	return it, err == nil, err
}

// commitItem applies a change whose item lead was created with a client
// token, resolving a race with a concurrent retry of the same request.
func (s *Service) commitItem(ctx context.Context, sess *Session, ch *store.Change, lead int) (store.Item, error) {
	ch.RequireActive = sess.Contact.ID
	items, err := s.store.Apply(ctx, ch)
	switch {
	case errors.Is(err, store.ErrDuplicate):
		it, _, err := s.replay(ctx, sess, ch.Items[lead].ClientToken)
		return it, err
	case errors.Is(err, store.ErrEnded):
		// A retry that raced its first attempt (a Disconnect) finds the
		// participant gone or the chat ended by that attempt: the first
		// result is its answer.
		if it, ok, err := s.replay(ctx, sess, ch.Items[lead].ClientToken); ok || err != nil {
			return it, err
		}
		return store.Item{}, errParticipantEnded
	case err != nil:
		return store.Item{}, err
	}
	return items[lead], nil
}

func (s *Service) newItem(sess *Session, typ, contentType, content, clientToken string) store.Item {
	p := sess.Participant
	return store.Item{
		ID: secret.NewTimeUUID(), ContactID: p.ContactID, ParticipantID: p.ID, ClientToken: clientToken, Type: typ,
		ContentType: contentType, Content: content, DisplayName: p.DisplayName, Role: p.Role,
	}
}

// SendMessage adds a message to the chat.
func (s *Service) SendMessage(ctx context.Context, sess *Session, contentType, content, clientToken string) (store.Item, error) {
	if sess.stale {
		it, err := s.sendMessageStale(ctx, sess, contentType, content, clientToken)
		if !errors.Is(err, errStale) {
			return it, err
		}
		if sess, err = s.refresh(ctx, sess); err != nil {
			return store.Item{}, err
		}
	}
	if it, stop, err := s.notUsable(ctx, sess, clientToken); stop {
		return it, err
	}
	if err := s.checkMessage(sess, contentType, content); err != nil {
		return store.Item{}, err
	}
	return s.sendMessage(ctx, sess, contentType, content, clientToken)
}

// sendMessageStale is SendMessage's fast path, on a session that may be
// stale and without a read: every refusal, and every failure of the
// transaction's checks, is errStale, for SendMessage to decide afresh.
// What the message's change relies on of the session (the participant
// joined, its idle state and timers, the chat not ended) the committing
// transaction checks; the rest (role, content types, deadline) never
// changes. Barged does, but only from false to true, and a silent monitor
// is refused (stale).
func (s *Service) sendMessageStale(ctx context.Context, sess *Session, contentType, content, clientToken string) (store.Item, error) {
	p, c := sess.Participant, sess.Contact
	if p.State == store.ParticipantLeft || c.State == store.ContactEnded || c.Ended(s.now()) {
		return store.Item{}, errStale
	}
	if s.checkMessage(sess, contentType, content) != nil {
		return store.Item{}, errStale
	}
	ch := s.messageChange(sess, contentType, content, clientToken)
	ch.RequireActive, ch.Expect = c.ID, expect(sess)
	items, err := s.store.Apply(ctx, ch)
	switch {
	case err == nil:
		return items[len(ch.Items)-1], nil
	case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrEnded), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDuplicate):
		return store.Item{}, errStale // nothing was written: decide afresh
	}
	return store.Item{}, err
}

// checkMessage refuses a message the session may not send.
func (s *Service) checkMessage(sess *Session, contentType, content string) error {
	if silent(sess.Participant) {
		return errSilent
	}
	if contentType == ContentInteractive {
		// CUSTOM_BOT and AGENT participants send interactive messages
		// (admin guide); the customer answers with interactive.response.
		if r := sess.Participant.Role; r != RoleCustomBot && r != RoleAgent {
			return errorf(Invalid, "Only agents and custom bots send %s; a %s participant answers with %s.", ContentInteractive, r, ContentInteractiveResponse)
		}
		if !slices.Contains(sess.Contact.ContentTypes, contentType) {
			return errorf(Invalid, "Content type %s is not supported by this chat.", contentType)
		}
		return validateInteractive(content)
	}
	limit, ok := messageLimits[contentType]
	if !ok {
		return errorf(Invalid, "Unsupported content type %s: use text/plain, text/markdown, application/json, %s or %s.", contentType, ContentInteractive, ContentInteractiveResponse)
	}
	if !slices.Contains(sess.Contact.ContentTypes, contentType) {
		return errorf(Invalid, "Content type %s is not supported by this chat.", contentType)
	}
	if n := runeLen(content); n > limit {
		return errorf(Invalid, "Content of type %s must be at most %d characters; it has %d.", contentType, limit, n)
	}
	return nil
}

// sendMessage commits a validated message, with the restart of the
// sender's idle timer.
func (s *Service) sendMessage(ctx context.Context, sess *Session, contentType, content, clientToken string) (store.Item, error) {
	ch := s.messageChange(sess, contentType, content, clientToken)
	return s.commitItem(ctx, sess, ch, len(ch.Items)-1)
}

// messageChange is the change of a message: the message last.
func (s *Service) messageChange(sess *Session, contentType, content, clientToken string) *store.Change {
	it := s.newItem(sess, TypeMessage, contentType, content, clientToken)
	it.InTranscript = true
	// A participant who was idle returns before their message.
	ch := &store.Change{}
	s.active(sess, ch)
	ch.Items = append(ch.Items, it)
	return ch
}

// receiptContent is the Content of a read or delivered event.
type receiptContent struct {
	MessageID string `json:"messageId"`
}

// SendEvent sends a typing event, a read or delivered receipt, or the
// (deprecated) connection acknowledgement.
func (s *Service) SendEvent(ctx context.Context, sess *Session, contentType, content, clientToken string) (store.Item, error) {
	if it, stop, err := s.notUsable(ctx, sess, clientToken); stop {
		return it, err
	}
	if silent(sess.Participant) {
		return store.Item{}, errSilent
	}
	if !sendableEvents[contentType] {
		return store.Item{}, errorf(Invalid, "Unsupported event content type %s.", contentType)
	}
	if runeLen(content) > MaxEventContent {
		return store.Item{}, errorf(Invalid, "The Content of an event is at most %d characters.", MaxEventContent)
	}
	ch := &store.Change{}
	switch contentType {
	case EventDelivered, EventRead:
		var rc receiptContent
		if json.Unmarshal([]byte(content), &rc) != nil || rc.MessageID == "" {
			return store.Item{}, errorf(Invalid, `Content of a receipt must be {"messageId":"…"}.`)
		}
		msg, err := s.store.Item(ctx, sess.Contact.ID, rc.MessageID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && msg.Type != TypeMessage && msg.Type != TypeAttachment) {
			return store.Item{}, errorf(Invalid, "Message %s not found in this chat.", rc.MessageID)
		}
		if err != nil {
			return store.Item{}, err
		}
		ps, err := s.store.Participants(ctx, sess.Contact.ID)
		if err != nil {
			return store.Item{}, err
		}
		if active := countJoined(ps); active > 2 {
			return store.Item{}, errorf(Conflict, "Message receipts are not supported when there are more than two active participants.")
		}
		rc2 := store.Receipt{MessageID: msg.ID, ContactID: sess.Contact.ID, RecipientID: sess.Participant.ID}
		if contentType == EventRead {
			rc2.Read = s.now()
		} else {
			rc2.Delivered = s.now()
		}
		it := s.newItem(sess, TypeMessageMetadata, contentType, content, clientToken)
		it.MessageID, it.Receipts = msg.ID, []store.Receipt{rc2}
		ch.Items, ch.Receipts = []store.Item{it}, []store.Receipt{rc2}
	case EventConnectionAck:
		ch.Items = []store.Item{s.newItem(sess, TypeEvent, contentType, content, clientToken)}
		ch.Acknowledge = []string{sess.Participant.ID}
	default: // typing: delivered live, not kept in the transcript
		ch.Items = []store.Item{s.newItem(sess, TypeEvent, contentType, content, clientToken)}
	}
	return s.commitItem(ctx, sess, ch, 0)
}

// countJoined counts the participants the chat knows of: not silent monitors.
func countJoined(ps []store.Participant) int {
	n := 0
	for _, p := range ps {
		if p.State == store.ParticipantJoined && !silent(p) {
			n++
		}
	}
	return n
}

// Disconnect removes the participant from the chat. The chat ends when its
// customer leaves, or when its last agent leaves.
func (s *Service) Disconnect(ctx context.Context, sess *Session, clientToken string) error {
	if _, stop, err := s.notUsable(ctx, sess, clientToken); stop {
		return err
	}
	ch, err := s.disconnection(ctx, sess, clientToken)
	if err != nil {
		return err
	}
	if silent(sess.Participant) { // no item to commit
		ch.RequireActive = sess.Participant.ContactID
		if _, err = s.store.Apply(ctx, ch); errors.Is(err, store.ErrEnded) {
			err = errParticipantEnded
		}
		return err
	}
	_, err = s.commitItem(ctx, sess, ch, 0)
	return err
}

// disconnection is the change of a participant leaving: its left event
// first, and the end of the chat if it goes with them.
func (s *Service) disconnection(ctx context.Context, sess *Session, clientToken string) (*store.Change, error) {
	p := sess.Participant
	left := s.newItem(sess, TypeEvent, EventParticipantLeft, "", clientToken)
	left.InTranscript = true
	ch := &store.Change{Leave: []store.Leave{{ParticipantID: p.ID, At: s.now()}}, Items: []store.Item{left}}
	if human(p.Role) {
		ch.Clocks = []store.Clock{{ParticipantID: p.ID}} // no timers run for who left
	}

	reason := ""
	switch p.Role {
	case RoleCustomer:
		reason = ReasonCustomer
	case RoleAgent, RoleCustomBot:
		ps, err := s.store.Participants(ctx, p.ContactID)
		if err != nil {
			return nil, err
		}
		if p.Role == RoleAgent && !slices.ContainsFunc(ps, func(o store.Participant) bool {
			return o.ID != p.ID && o.Role == RoleAgent && o.State == store.ParticipantJoined
		}) {
			reason = ReasonAgent
		} else {
			ch.Clocks = append(ch.Clocks, stopCustomerClocks(ps, p.ID)...)
		}
	}
	if reason != "" {
		ch.Items = append(ch.Items, endedItem(p.ContactID))
		ch.End = &store.End{ContactID: p.ContactID, At: s.now(), Reason: reason}
	}
	if silent(p) {
		// A silent monitor leaves as it came: unheard.
		ch.Items = nil
	}
	return ch, nil
}
