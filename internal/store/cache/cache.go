// Package cache keeps the records every participant request reads — its
// connection token, its participant and its contact — in memory in front of
// a store. Connection tokens never change; participants and contacts are
// dropped from the cache by the writes that change them, which all go
// through Apply. That holds for one server: servers sharing a database
// use Shared, which caches only what never changes, and, for CachedSession
// alone, sessions that may be stale: a change decided from one carries a
// store.Expect, which the committing transaction checks.
//
// A read that misses goes to the store and then fills the cache; a write
// may commit and invalidate between the two, and the read would then put
// back the record as it was before the write. So every invalidation
// advances a generation, and a read fills the cache only if the
// generation it started under is still current.
package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// maxEntries bounds each map; past it the map starts over, which costs a
// few database reads and keeps memory bounded.
const maxEntries = 100_000

// Store is a store.Store with cached reads.
type Store struct {
	store.Store
	mu           sync.RWMutex
	tokens       map[string]store.ConnectionToken
	participants map[string]store.Participant
	contacts     map[string]store.Contact
	sessions     map[string]session // Shared only: see CachedSession
	gen          uint64             // advanced by every invalidation; under mu
	shared       bool               // other processes write the database: cache only tokens
}

var _ store.Store = (*Store)(nil)

// session is a participant and its contact, as CachedSession returns them.
type session struct {
	p store.Participant
	c store.Contact
}

// New wraps s.
func New(s store.Store) *Store {
	return &Store{Store: s, tokens: map[string]store.ConnectionToken{},
		participants: map[string]store.Participant{}, contacts: map[string]store.Contact{}, sessions: map[string]session{}}
}

// Shared wraps s, which other processes write too. It caches only
// connection tokens, which never change once written: a participant or a
// contact changed by another process would be stale here.
func Shared(s store.Store) *Store {
	c := New(s)
	c.shared = true
	return c
}

// get returns a cached value, or the generation a miss starts under.
func get[V any](c *Store, m map[string]V, key string) (V, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := m[key]
	return v, c.gen, ok
}

// put caches v, read from the store under generation gen, unless a write
// has invalidated since: v may then predate it.
func put[V any](c *Store, m *map[string]V, key string, v V, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(*m) >= maxEntries {
		*m = map[string]V{}
	}
	(*m)[key] = v
}

func (c *Store) ConnectionToken(ctx context.Context, hash string) (store.ConnectionToken, error) {
	t, gen, ok := get(c, c.tokens, hash)
	if ok {
		return t, nil
	}
	t, err := c.Store.ConnectionToken(ctx, hash)
	if err == nil {
		put(c, &c.tokens, hash, t, gen)
	}
	return t, err
}

func (c *Store) Participant(ctx context.Context, id string) (store.Participant, error) {
	if c.shared {
		return c.Store.Participant(ctx, id)
	}
	p, gen, ok := get(c, c.participants, id)
	if ok {
		return p, nil
	}
	p, err := c.Store.Participant(ctx, id)
	if err == nil {
		put(c, &c.participants, id, p, gen)
	}
	return p, err
}

// Session is Participant and Contact, each from the cache where it may be.
func (c *Store) Session(ctx context.Context, participantID string) (store.Participant, store.Contact, error) {
	if c.shared {
		return c.Store.Session(ctx, participantID)
	}
	p, err := c.Participant(ctx, participantID)
	if err != nil {
		return p, store.Contact{}, err
	}
	k, err := c.Contact(ctx, p.ContactID)
	return p, k, err
}

// CachedSession is Session, from memory where it can be. In a Shared
// cache what it returns may be stale (another process may have changed the
// participant or its contact): a change decided from it must carry a
// store.Expect, and a refusal decided from it must be decided again from
// Session. It reports whether the session may be stale.
func (c *Store) CachedSession(ctx context.Context, participantID string) (store.Participant, store.Contact, bool, error) {
	if !c.shared {
		p, k, err := c.Session(ctx, participantID)
		return p, k, false, err
	}
	s, gen, ok := get(c, c.sessions, participantID)
	if ok {
		return s.p, s.c, true, nil
	}
	p, k, err := c.Store.Session(ctx, participantID)
	if err == nil {
		put(c, &c.sessions, participantID, session{p, k}, gen)
	}
	return p, k, false, err
}

// DropSession forgets participantID's session, found stale: the next
// CachedSession reads it afresh.
func (c *Store) DropSession(participantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.sessions, participantID)
}

func (c *Store) Contact(ctx context.Context, id string) (store.Contact, error) {
	if c.shared {
		return c.Store.Contact(ctx, id)
	}
	k, gen, ok := get(c, c.contacts, id)
	if ok {
		return k, nil
	}
	k, err := c.Store.Contact(ctx, id)
	if err == nil {
		put(c, &c.contacts, id, k, gen)
	}
	return k, err
}

// Apply writes through, then forgets what the change touched.
func (c *Store) Apply(ctx context.Context, ch *store.Change) ([]store.Item, error) {
	items, err := c.Store.Apply(ctx, ch)
	c.forget(ch, err == nil)
	return items, err
}

func (c *Store) forget(ch *store.Change, committed bool) {
	if ch.Subscribed != "" && committed {
		c.subscribed(ch.Subscribed)
	}
	if len(ch.Acknowledge) == 0 && len(ch.Leave) == 0 && ch.End == nil && ch.ConnectAgent == nil && ch.Timers == nil && ch.PromoteTimers == nil && ch.Attributes == nil && ch.Erase == nil &&
		ch.Persist == nil && ch.AnnounceRehydration == "" && ch.Requeue == nil &&
		ch.Barge == "" && ch.ParticipantToken == nil && len(ch.Clocks) == 0 {
		return // nothing cached changed: reads in flight may fill the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if ch.Erase != nil {
		// An erased contact's tokens and participants go with it; which
		// tokens are its is not known here, and erasure is rare: start over.
		c.tokens = map[string]store.ConnectionToken{}
		c.participants = map[string]store.Participant{}
		c.contacts = map[string]store.Contact{}
		c.sessions = map[string]session{}
		return
	}
	c.forgetSessions(ch, committed)
	for _, id := range ch.Acknowledge {
		delete(c.participants, id)
	}
	for _, k := range ch.Clocks { // a participant's idle state and deadlines
		delete(c.participants, k.ParticipantID)
	}
	for _, l := range ch.Leave {
		delete(c.participants, l.ParticipantID)
	}
	if ch.End != nil {
		delete(c.contacts, ch.End.ContactID)
	}
	if ch.ConnectAgent != nil {
		delete(c.contacts, ch.ConnectAgent.ContactID)
	}
	if ch.Timers != nil {
		delete(c.contacts, ch.Timers.ContactID)
	}
	if ch.PromoteTimers != nil {
		delete(c.contacts, ch.PromoteTimers.ContactID)
	}
	if ch.Persist != nil {
		delete(c.contacts, ch.Persist.ContactID)
	}
	if ch.Barge != "" {
		delete(c.participants, ch.Barge)
	}
	if ch.ParticipantToken != nil {
		delete(c.participants, ch.ParticipantToken.ParticipantID)
	}
	if ch.Requeue != nil {
		delete(c.contacts, ch.Requeue.ContactID)
	}
	if ch.AnnounceRehydration != "" {
		delete(c.contacts, ch.AnnounceRehydration)
	}
	if ch.Attributes != nil {
		delete(c.contacts, ch.Attributes.ContactID)
	}
}

// subscribed clears a cached contact's ConnectBy in place, without a new
// generation: every chat's first connection does this, and a generation
// spent on each would keep the reads of every chat starting meanwhile out
// of the cache. A read in flight may put back the contact with its
// ConnectBy; that costs one more clearing write, which changes nothing, at
// the customer's next connection (ConnectBy is read for nothing else).
func (c *Store) subscribed(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.contacts[id]; ok {
		k.ConnectBy = time.Time{}
		c.contacts[id] = k
	}
}

// forgetSessions drops the sessions ch changed, under mu. A committed clock
// is kept: a message restarts its sender's clock, and dropping the session
// would send every message of a participant with an idle timer to the
// database for it.
func (c *Store) forgetSessions(ch *store.Change, committed bool) {
	if len(c.sessions) == 0 {
		return
	}
	for _, k := range ch.Clocks {
		s, ok := c.sessions[k.ParticipantID]
		if ok && committed && !k.Conditional {
			s.p.Idle, s.p.IdleAt, s.p.DisconnectAt = k.Idle, k.IdleAt, k.DisconnectAt
			c.sessions[k.ParticipantID] = s
		} else {
			delete(c.sessions, k.ParticipantID)
		}
	}
	for _, id := range ch.Acknowledge {
		delete(c.sessions, id)
	}
	for _, l := range ch.Leave {
		delete(c.sessions, l.ParticipantID)
	}
	if ch.Barge != "" {
		delete(c.sessions, ch.Barge)
	}
	if ch.ParticipantToken != nil {
		delete(c.sessions, ch.ParticipantToken.ParticipantID)
	}
	var contacts []string
	for _, k := range []struct {
		changed bool
		id      func() string
	}{
		{ch.End != nil, func() string { return ch.End.ContactID }},
		{ch.ConnectAgent != nil, func() string { return ch.ConnectAgent.ContactID }},
		{ch.Timers != nil, func() string { return ch.Timers.ContactID }},
		{ch.PromoteTimers != nil, func() string { return ch.PromoteTimers.ContactID }},
		{ch.Persist != nil, func() string { return ch.Persist.ContactID }},
		{ch.Requeue != nil, func() string { return ch.Requeue.ContactID }},
		{ch.AnnounceRehydration != "", func() string { return ch.AnnounceRehydration }},
		{ch.Attributes != nil, func() string { return ch.Attributes.ContactID }},
	} {
		if k.changed {
			contacts = append(contacts, k.id())
		}
	}
	if len(contacts) == 0 {
		return
	}
	// Sessions are by participant: a change of a contact, rare beside
	// messages, looks through them all.
	for id, s := range c.sessions {
		if slices.Contains(contacts, s.c.ID) {
			delete(c.sessions, id)
		}
	}
}
