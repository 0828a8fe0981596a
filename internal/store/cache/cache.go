// Package cache keeps the records every participant request reads — its
// connection token, its participant and its contact — in memory in front of
// a store. Connection tokens never change; participants and contacts are
// dropped from the cache by the writes that change them, which all go
// through Apply. That holds for one server: servers sharing a database
// use Shared, which caches only what never changes.
//
// A read that misses goes to the store and then fills the cache; a write
// may commit and invalidate between the two, and the read would then put
// back the record as it was before the write. So every invalidation
// advances a generation, and a read fills the cache only if the
// generation it started under is still current.
package cache

import (
	"context"
	"sync"

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
	gen          uint64 // advanced by every invalidation; under mu
	shared       bool   // other processes write the database: cache only tokens
}

var _ store.Store = (*Store)(nil)

// New wraps s.
func New(s store.Store) *Store {
	return &Store{Store: s, tokens: map[string]store.ConnectionToken{},
		participants: map[string]store.Participant{}, contacts: map[string]store.Contact{}}
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
	c.forget(ch)
	return items, err
}

func (c *Store) forget(ch *store.Change) {
	if len(ch.Acknowledge) == 0 && len(ch.Leave) == 0 && ch.End == nil && ch.ConnectAgent == nil && ch.Timers == nil && ch.Attributes == nil && ch.Erase == nil &&
		ch.Persist == nil && ch.AnnounceRehydration == "" && ch.Requeue == nil &&
		ch.Barge == "" && ch.ParticipantToken == nil {
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
		return
	}
	for _, id := range ch.Acknowledge {
		delete(c.participants, id)
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
