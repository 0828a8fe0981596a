// Package broker carries committed chat items from the store to the sockets
// that follow each chat. A Publisher publishes them after commit, in commit
// order, off the store's writer; each
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
	"context"
	"slices"
	"sync"

	"github.com/parleychat/parley/internal/store"
)

// Broker fans chat items out to subscribers.
type Broker interface {
	// Publish delivers items, in order, to the subscribers of their chats.
	// It never blocks on a subscriber. An error means some subscribers may
	// not get the items: they notice the gap in the chat's seqs.
	Publish(ctx context.Context, items []store.Item) error
	// Subscribe follows one chat. At most limit items wait for the
	// subscriber; one more drops it.
	Subscribe(contactID string, limit int) *Subscription
	// SubscribeFunc also calls notify, without blocking, when items were
	// queued for the subscriber or it was dropped.
	SubscribeFunc(contactID string, limit int, notify func()) *Subscription
}

// Subscription is one follower of a chat. Its queue is a slice that grows
// only while items wait, so an idle subscription costs a few hundred bytes
// whatever its limit.
type Subscription struct {
	// Ready receives a signal when items are waiting; Take returns them.
	Ready <-chan struct{}
	// Dropped is closed when the subscriber fell too far behind and was
	// dropped; nothing is queued for it after that.
	Dropped <-chan struct{}

	mu        sync.Mutex
	queue     []store.Item
	limit     int
	ready     chan struct{}
	dropped   chan struct{}
	isDropped bool
	notify    func() // called after items are queued, and on a drop
	contactID string
	cancel    func(*Subscription)
	once      sync.Once
}

// Take returns the waiting items, oldest first, and empties the queue.
func (s *Subscription) Take() []store.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := s.queue
	s.queue = nil
	return items
}

// offer queues an item, reporting false when the queue is full.
func (s *Subscription) offer(it store.Item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isDropped {
		return true // already dropped: nothing more for it, and no second close
	}
	if len(s.queue) >= s.limit {
		s.isDropped = true
		return false
	}
	s.queue = append(s.queue, it)
	select {
	case s.ready <- struct{}{}:
	default: // a signal is pending already
	}
	return true
}

// Pending reports how many items wait.
func (s *Subscription) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// IsDropped reports whether the subscriber fell behind and was dropped.
func (s *Subscription) IsDropped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isDropped
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

func (m *Memory) Subscribe(contactID string, limit int) *Subscription {
	return m.SubscribeFunc(contactID, limit, nil)
}

// SubscribeFunc is Subscribe with a callback that Publish calls, without
// blocking, whenever it queued items for the subscriber or dropped it: a
// subscriber can then run a goroutine only while it has something to do.
func (m *Memory) SubscribeFunc(contactID string, limit int, notify func()) *Subscription {
	s := &Subscription{
		notify:    notify,
		limit:     limit,
		ready:     make(chan struct{}, 1),
		dropped:   make(chan struct{}),
		contactID: contactID,
		cancel:    m.remove,
	}
	s.Ready, s.Dropped = s.ready, s.dropped
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

func (m *Memory) Publish(_ context.Context, items []store.Item) error {
	// A subscriber that missed an item gets nothing after it (offer refuses
	// once it overflowed): what it has queued stays a gap-free prefix.
	var lagging, notified []*Subscription
	var seen map[*Subscription]bool // for a large batch: a search of notified per item would be quadratic
	if len(items) > 16 {
		seen = make(map[*Subscription]bool)
	}
	m.mu.RLock()
	for _, it := range items {
		for s := range m.subs[it.ContactID] {
			if !s.offer(it) {
				lagging = append(lagging, s)
			}
			if seen != nil {
				if !seen[s] {
					seen[s] = true
					notified = append(notified, s)
				}
			} else if !slices.Contains(notified, s) {
				notified = append(notified, s)
			}
		}
	}
	m.mu.RUnlock()
	for _, s := range lagging {
		s.once.Do(func() {
			s.cancel(s) // m.remove, or what a wrapping broker put there
			close(s.dropped)
		})
	}
	for _, s := range notified {
		if s.notify != nil {
			s.notify()
		}
	}
	return nil
}

// Subscribers reports how many subscriptions follow a chat.
func (m *Memory) Subscribers(contactID string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.subs[contactID])
}
