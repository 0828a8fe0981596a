package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/store"
)

// feedQueue is how many items may wait for a chat's feed; past it the
// feed is dropped and its sockets closed, and their clients catch up from
// the transcript. A feed only encodes and hands frames on, so it falls
// behind only when the machine does.
const feedQueue = 4096

// encodeItem is EncodeItem; tests count its calls.
var encodeItem = EncodeItem

// fillPage is how many missing items one read of the store fills.
const fillPage = 100

// hub is this node's follower of the chats that have sockets here: one
// broker subscription per chat, whatever its number of sockets, and each
// item encoded once for all of them. It knows the next seq of each chat it
// follows: it drops an item it has delivered already, and fills a gap (an
// item the broker lost) from the store before going on, so sockets get
// every item of their chat once, in seq order.
type hub struct {
	broker broker.Broker
	items  func(ctx context.Context, contactID string, from int64, limit int) ([]store.Item, error)
	spawn  func(func()) bool // runs a goroutine the gateway owns; false once it shuts down
	log    *slog.Logger

	mu    sync.Mutex
	feeds map[string]*feed
}

// feed is one chat followed by the hub.
type feed struct {
	h                *hub
	contactID        string
	initialContactID string
	sub              *broker.Subscription
	sockets          map[*socket]struct{} // under h.mu
	running          atomic.Bool          // a drain goroutine runs
	next             int64                // the seq expected next; 0 until the first item. Owned by drain.
}

func newHub(b broker.Broker, items func(context.Context, string, int64, int) ([]store.Item, error), spawn func(func()) bool,
	log *slog.Logger) *hub {
	return &hub{broker: b, items: items, spawn: spawn, log: log, feeds: make(map[string]*feed)}
}

// join adds a socket to its chat's feed, subscribing the node to the chat
// if it is the chat's first socket here.
func (h *hub) join(s *socket, contactID, initialContactID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.feeds[contactID]
	if f == nil {
		f = &feed{h: h, contactID: contactID, initialContactID: initialContactID, sockets: make(map[*socket]struct{})}
		f.sub = h.broker.SubscribeFunc(contactID, feedQueue, f.wake)
		h.feeds[contactID] = f
	}
	f.sockets[s] = struct{}{}
	s.feed = f
}

// leave removes a socket; the chat's last socket here ends the node's
// subscription to it.
func (h *hub) leave(s *socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := s.feed
	if f == nil {
		return
	}
	delete(f.sockets, s)
	if len(f.sockets) == 0 && h.feeds[f.contactID] == f {
		delete(h.feeds, f.contactID)
		f.sub.Close()
	}
}

// wake runs the feed's drain, unless it runs already. The broker calls it,
// without blocking, after queueing items or dropping the feed.
func (f *feed) wake() {
	if f.running.CompareAndSwap(false, true) && !f.h.spawn(f.drain) {
		f.running.Store(false) // shutting down: the sockets are closing
	}
}

func (f *feed) drain() {
	for {
		if f.sub.IsDropped() {
			f.drop()
			return
		}
		items := f.sub.Take()
		if len(items) == 0 {
			f.running.Store(false)
			// An item queued between Take and Store found the drain
			// running and did not start one: look once more.
			if (f.sub.Pending() == 0 && !f.sub.IsDropped()) || !f.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		for _, it := range items {
			if !f.deliver(it) {
				f.drop()
				return
			}
		}
	}
}

// deliver sends an item to the chat's sockets, after any it missed; false
// means the feed could not fill a gap.
func (f *feed) deliver(it store.Item) bool {
	switch {
	case f.next == 0:
	case it.Seq < f.next:
		return true // delivered already
	case it.Seq > f.next:
		// The broker lost items (e.g. a failed publish): read them from the
		// store, which has every committed item.
		if !f.fill(it.Seq) {
			return false
		}
	}
	f.send(it)
	f.next = it.Seq + 1
	return true
}

// fill reads and sends the items from f.next up to (not including) upTo.
func (f *feed) fill(upTo int64) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for f.next < upTo {
		items, err := f.h.items(ctx, f.contactID, f.next, int(min(upTo-f.next, fillPage)))
		if err != nil {
			f.h.log.Warn("filling a gap in a chat's items", "contact", f.contactID, "from", f.next, "to", upTo, "err", err)
			return false
		}
		if len(items) == 0 {
			return false // not committed, or pruned: the sockets resync from the transcript
		}
		for _, it := range items {
			if it.Seq >= upTo {
				break
			}
			f.send(it)
			f.next = it.Seq + 1
		}
	}
	return true
}

// send encodes an item once and hands the frame to every socket of the
// chat.
func (f *feed) send(it store.Item) {
	frame, err := encodeItem(it, f.initialContactID)
	if err != nil {
		f.h.log.Error("encoding an item", "item", it.ID, "err", err)
		return
	}
	f.h.mu.Lock()
	sockets := make([]*socket, 0, len(f.sockets))
	for s := range f.sockets {
		sockets = append(sockets, s)
	}
	f.h.mu.Unlock()
	ends := it.ContentType == chat.EventChatEnded
	for _, s := range sockets {
		s.offer(outFrame{data: frame, closes: ends || (it.ContentType == chat.EventParticipantLeft && it.ParticipantID == s.grant.ParticipantID)})
	}
}

// drop ends a feed that fell behind or could not fill a gap: its sockets
// close, and their clients reconnect and read the transcript.
func (f *feed) drop() {
	f.h.mu.Lock()
	if f.h.feeds[f.contactID] == f {
		delete(f.h.feeds, f.contactID)
	}
	sockets := make([]*socket, 0, len(f.sockets))
	for s := range f.sockets {
		sockets = append(sockets, s)
	}
	f.h.mu.Unlock()
	f.sub.Close()
	for _, s := range sockets {
		s.g.slowDrops.Add(1)
		s.close(closeLagging, "Fell behind; reconnect and read the transcript.")
	}
}
