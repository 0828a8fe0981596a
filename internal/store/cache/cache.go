// Package cache keeps the records every participant request reads — its
// connection token, its participant and its contact — in memory in front of
// a store. Connection tokens never change; participants and contacts are
// dropped from the cache by the writes that change them, which all go
// through Apply. That holds for one server: servers sharing a database
// must not cache (or must hear of each other's writes).
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
}

var _ store.Store = (*Store)(nil)

// New wraps s.
func New(s store.Store) *Store {
	return &Store{Store: s, tokens: map[string]store.ConnectionToken{},
		participants: map[string]store.Participant{}, contacts: map[string]store.Contact{}}
}

func get[V any](c *Store, m map[string]V, key string) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := m[key]
	return v, ok
}

func put[V any](c *Store, m *map[string]V, key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(*m) >= maxEntries {
		*m = map[string]V{}
	}
	(*m)[key] = v
}

func (c *Store) ConnectionToken(ctx context.Context, hash string) (store.ConnectionToken, error) {
	if t, ok := get(c, c.tokens, hash); ok {
		return t, nil
	}
	t, err := c.Store.ConnectionToken(ctx, hash)
	if err == nil {
		put(c, &c.tokens, hash, t)
	}
	return t, err
}

func (c *Store) Participant(ctx context.Context, id string) (store.Participant, error) {
	if p, ok := get(c, c.participants, id); ok {
		return p, nil
	}
	p, err := c.Store.Participant(ctx, id)
	if err == nil {
		put(c, &c.participants, id, p)
	}
	return p, err
}

func (c *Store) Contact(ctx context.Context, id string) (store.Contact, error) {
	if k, ok := get(c, c.contacts, id); ok {
		return k, nil
	}
	k, err := c.Store.Contact(ctx, id)
	if err == nil {
		put(c, &c.contacts, id, k)
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
	c.mu.Lock()
	defer c.mu.Unlock()
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
	if ch.Attributes != nil {
		delete(c.contacts, ch.Attributes.ContactID)
	}
}
