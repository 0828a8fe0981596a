// Package broker carries committed chat items from the store to the sockets
// that follow each chat. The store publishes in commit order; each
// subscription receives its chat's items in that order through a bounded
// queue, so a slow subscriber never holds up a publisher or anyone else: when
// its queue is full it is dropped, and its client catches up from the
// transcript after reconnecting.
//
// Memory is in-process. A NATS implementation of the same interface lets
// several Parley servers share chats without the gateway or the domain
// changing.
package broker

import (
	"sync"

	"github.com/parleychat/parley/internal/store"
)

// Broker fans chat items out to subscribers.
type Broker interface {
	// Publish delivers items, in order, to the subscribers of their chats.
	// It never blocks on a subscriber.
	Publish(items []store.Item)
	// Subscribe follows one chat. The subscription's queue holds up to
	// queue items.
	Subscribe(contactID string, queue int) *Subscription
}

// Subscription is one follower of a chat.
type Subscription struct {
	// C delivers the chat's items in commit order.
	C <-chan store.Item
	// Dropped is closed when the subscriber fell too far behind and was
	// dropped; C then receives nothing more.
	Dropped <-chan struct{}

	c         chan store.Item
	dropped   chan struct{}
	contactID string
	cancel    func(*Subscription)
	once      sync.Once
}

// Close ends the subscription.
func (s *Subscription) Close() { s.once.Do(func() { s.cancel(s) }) }

// Memory is the in-process broker.
type Memory struct {
	mu   sync.RWMutex
	subs map[string]map[*Subscription]struct{}
}

var _ Broker = (*Memory)(nil)

// NewMemory returns an in-process broker.
func NewMemory() *Memory {
	return &Memory{subs: make(map[string]map[*Subscription]struct{})}
}

func (m *Memory) Subscribe(contactID string, queue int) *Subscription {
	s := &Subscription{
		c:         make(chan store.Item, queue),
		dropped:   make(chan struct{}),
		contactID: contactID,
		cancel:    m.remove,
	}
	s.C, s.Dropped = s.c, s.dropped
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.subs[contactID]
	if set == nil {
		set = make(map[*Subscription]struct{})
		m.subs[contactID] = set
	}
	set[s] = struct{}{}
	return s
}

func (m *Memory) remove(s *Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set := m.subs[s.contactID]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m.subs, s.contactID)
		}
	}
}

func (m *Memory) Publish(items []store.Item) {
	// A subscriber that missed an item gets nothing after it: what it has
	// queued stays a gap-free prefix of the chat.
	var lagging map[*Subscription]bool
	m.mu.RLock()
	for _, it := range items {
		for s := range m.subs[it.ContactID] {
			if lagging[s] {
				continue
			}
			select {
			case s.c <- it:
			default:
				if lagging == nil {
					lagging = make(map[*Subscription]bool)
				}
				lagging[s] = true
			}
		}
	}
	m.mu.RUnlock()
	for s := range lagging {
		s.once.Do(func() {
			m.remove(s)
			close(s.dropped)
		})
	}
}

// Subscribers reports how many subscriptions follow a chat.
func (m *Memory) Subscribers(contactID string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.subs[contactID])
}
