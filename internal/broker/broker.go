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
	// queued for the subscriber or it was dropped. Its subscription has
	// no channels (Ready and Dropped are nil): notify, Take and IsDropped
	// say what they would.
	SubscribeFunc(contactID string, limit int, notify func()) *Subscription
}

// Subscription is one follower of a chat. Its queue is a slice that grows
// only while items wait, so an idle subscription costs a few hundred bytes
// whatever its limit (a hundred or so without channels: SubscribeFunc).
type Subscription struct {
	// Ready receives a signal when items are waiting; Take returns them.
	// nil for a subscription made by SubscribeFunc.
	Ready <-chan struct{}
	// Dropped is closed when the subscriber fell too far behind and was
	// dropped; nothing is queued for it after that. nil for a
	// subscription made by SubscribeFunc.
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
	if s.ready != nil {
		select {
		case s.ready <- struct{}{}:
		default: // a signal is pending already
		}
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
	mu sync.RWMutex
	// subs holds each chat's subscriptions: a slice, not a set, since a
	// chat has one per node (the gateway's hub) or a few, and this is
	// state every followed chat keeps (issue 17).
	subs   map[string][]*Subscription
	remove func(*Subscription) // m.unsubscribe, made once rather than per subscription
}

var _ Broker = (*Memory)(nil)

// NewMemory returns an in-process broker.
func NewMemory() *Memory {
	m := &Memory{subs: make(map[string][]*Subscription)}
	m.remove = m.unsubscribe
	return m
}

func (m *Memory) Subscribe(contactID string, limit int) *Subscription {
	s := m.subscribe(contactID, limit, nil)
	s.ready, s.dropped = make(chan struct{}, 1), make(chan struct{})
	s.Ready, s.Dropped = s.ready, s.dropped
	m.add(s)
	return s
}

// SubscribeFunc is Subscribe with a callback that Publish calls, without
// blocking, whenever it queued items for the subscriber or dropped it: a
// subscriber can then run a goroutine only while it has something to do.
// It makes no channels.
func (m *Memory) SubscribeFunc(contactID string, limit int, notify func()) *Subscription {
	if notify == nil {
		return m.Subscribe(contactID, limit)
	}
	s := m.subscribe(contactID, limit, notify)
	m.add(s)
	return s
}

func (m *Memory) subscribe(contactID string, limit int, notify func()) *Subscription {
	return &Subscription{notify: notify, limit: limit, contactID: contactID, cancel: m.remove}
}

func (m *Memory) add(s *Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[s.contactID] = append(m.subs[s.contactID], s)
}

func (m *Memory) unsubscribe(s *Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	subs := m.subs[s.contactID]
	i := slices.Index(subs, s)
	if i < 0 {
		return
	}
	if len(subs) == 1 {
		delete(m.subs, s.contactID)
		return
	}
	// In place: Publish reads the slice under m.mu only.
	subs[i] = subs[len(subs)-1]
	subs[len(subs)-1] = nil
	m.subs[s.contactID] = subs[:len(subs)-1]
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
		for _, s := range m.subs[it.ContactID] {
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
			s.cancel(s) // m.unsubscribe, or what a wrapping broker put there
			if s.dropped != nil {
				close(s.dropped)
			}
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
