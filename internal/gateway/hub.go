package gateway

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

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

// Repair timing. A gap (an item whose predecessor has not come) waits
// GapWait before the store is read: the bus orders items per publisher
// only, so another node's earlier item may still be on its way. Every
// CheckEvery the hub compares its followed chats' newest seqs in the store
// with what it delivered, which finds the items a lost last message or a
// node that died between commit and publish left out.
var (
	GapWait    = 200 * time.Millisecond
	CheckEvery = 2 * time.Second
)

// checkBatch is how many chats one LastSeqs read covers.
const checkBatch = 500

// hub is this node's follower of the chats that have sockets here: one
// broker subscription per chat, whatever its number of sockets, and each
// item encoded once for all of them. It knows the next seq of each chat it
// follows: it drops an item it has delivered already, and fills a gap (an
// item the broker lost) from the store, so sockets get every item of their
// chat once, in seq order. The store is the truth; the broker only says
// when to look.
type hub struct {
	broker broker.Broker
	items  func(ctx context.Context, contactID string, from int64, limit int) ([]store.Item, error)
	last   func(ctx context.Context, contactIDs []string) (map[string]int64, error)
	spawn  func(func()) bool // runs a goroutine the gateway owns; false once it shuts down
	log    *slog.Logger
	// periodic says whether to check the followed chats every CheckEvery:
	// only a broker that can lose items (another process) needs it.
	periodic bool

	mu    sync.Mutex
	feeds map[string]*feed
	gaps  map[*feed]time.Time // feeds missing items, since when; under mu

	checkNow chan struct{}
	repairs  atomic.Int64 // items read from the store to fill gaps
}

// feed is one chat followed by the hub.
type feed struct {
	h                *hub
	contactID        string
	initialContactID string
	// sub is set under h.mu: the broker may wake the feed from inside
	// SubscribeFunc, before it has returned sub, and drain reads it under
	// h.mu.
	sub *broker.Subscription
	// sockets is under h.mu and never changed in place: join and leave
	// replace it, so send reads it without copying. A slice, not a map:
	// most chats have one or two sockets on a node, and an idle chat's
	// state is what 100,000 connected participants cost (issue 17).
	sockets []*socket
	running atomic.Bool // a drain goroutine runs

	mu sync.Mutex // the delivery state below; taken before h.mu
	// next is the seq expected next; 0 until the feed knows the chat's
	// position (items wait in pending meanwhile).
	next       int64
	positioned bool
	pending    map[int64]store.Item // items after a gap; nil without one
	want       int64                // the newest seq known committed
	dead       bool
	// leaving are the sockets whose participant left in the items being
	// delivered: they close once the rest of those items (above all a
	// chat.ended committed with the leave) are queued behind the leave.
	leaving []*socket
}

// newHub returns a hub; the gateway runs its run method.
func newHub(b broker.Broker, items func(context.Context, string, int64, int) ([]store.Item, error),
	last func(context.Context, []string) (map[string]int64, error), spawn func(func()) bool, log *slog.Logger) *hub {
	h := &hub{broker: b, items: items, last: last, spawn: spawn, log: log, feeds: make(map[string]*feed), gaps: make(map[*feed]time.Time),
		checkNow: make(chan struct{}, 1)}
	if r, ok := b.(interface{ OnTrouble(func()) }); ok {
		h.periodic = true
		r.OnTrouble(h.check)
	}
	return h
}

// check asks for a comparison of every followed chat with the store now:
// the broker calls it when it may have lost items (a reconnect, a slow
// consumer).
func (h *hub) check() {
	select {
	case h.checkNow <- struct{}{}:
	default:
	}
}

// run repairs gaps that waited GapWait and, with a remote broker, checks
// the followed chats every CheckEvery or when asked, until stop is closed.
func (h *hub) run(stop <-chan struct{}) {
	tick := time.NewTicker(GapWait / 2)
	defer tick.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if h.periodic && time.Since(lastCheck) >= CheckEvery {
				h.compare()
				lastCheck = time.Now()
			}
		case <-h.checkNow:
			h.compare()
			lastCheck = time.Now()
		}
		h.repairDue()
	}
}

// compare reads the newest seq of every followed chat and marks those
// that lack items.
func (h *hub) compare() {
	h.mu.Lock()
	feeds := make([]*feed, 0, len(h.feeds))
	for _, f := range h.feeds {
		feeds = append(feeds, f)
	}
	h.mu.Unlock()
	for batch := range slices.Chunk(feeds, checkBatch) {
		ids := make([]string, len(batch))
		for i, f := range batch {
			ids[i] = f.contactID
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last, err := h.last(ctx, ids)
		cancel()
		if err != nil {
			h.log.Warn("checking followed chats against the store", "chats", len(ids), "err", err)
			return
		}
		for _, f := range batch {
			if seq, ok := last[f.contactID]; ok {
				f.known(seq)
			} else {
				// Erased: its chat.ended, if the bus lost it, is gone
				// with its items, and nothing else would close its sockets.
				f.drop(statusNormal, "The chat has ended.")
			}
		}
	}
}

// repairDue fills the gaps that waited GapWait.
func (h *hub) repairDue() {
	now := time.Now()
	h.mu.Lock()
	var due []*feed
	for f, since := range h.gaps {
		if now.Sub(since) >= GapWait {
			due = append(due, f)
			delete(h.gaps, f)
		}
	}
	h.mu.Unlock()
	for _, f := range due {
		f.repair()
	}
}

// markGap notes that f lacks items, unless it is noted already.
func (h *hub) markGap(f *feed) {
	h.mu.Lock()
	if _, ok := h.gaps[f]; !ok {
		h.gaps[f] = time.Now()
	}
	h.mu.Unlock()
}

// join adds a socket to its chat's feed, subscribing the node to the chat
// if it is the chat's first socket here. A new feed subscribes first, then
// reads the chat's position, then delivers what came meanwhile after it:
// the other order would lose items committed between the read and the
// subscription.
func (h *hub) join(s *socket, contactID, initialContactID string) {
	h.mu.Lock()
	f := h.feeds[contactID]
	created := f == nil
	if created {
		f = &feed{h: h, contactID: contactID, initialContactID: initialContactID}
		f.sub = h.broker.SubscribeFunc(contactID, feedQueue, f.wake)
		h.feeds[contactID] = f
	}
	f.sockets = append(slices.Clip(f.sockets), s) // a new array: send may hold the old one
	s.feed = f
	h.mu.Unlock()
	if created {
		f.position()
	}
}

// position reads the chat's newest seq: the feed delivers what follows.
func (f *feed) position() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	last, err := f.h.last(ctx, []string{f.contactID})
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.positioned = true
	if err != nil {
		// Without the position the first item sets it, as a feed on one
		// node always could.
		f.h.log.Warn("reading a chat's position", "contact", f.contactID, "err", err)
		if len(f.pending) > 0 {
			f.next = slices.Min(slices.Collect(maps.Keys(f.pending)))
		}
	} else {
		f.next = last[f.contactID] + 1
		// What came since the subscription is the chat's from there on,
		// even if the read saw it committed already.
		if len(f.pending) > 0 {
			f.next = min(f.next, slices.Min(slices.Collect(maps.Keys(f.pending))))
		}
	}
	f.flush()
	f.closeLeavers()
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
	if i := slices.Index(f.sockets, s); i >= 0 {
		f.sockets = slices.Concat(f.sockets[:i], f.sockets[i+1:]) // a new array: send may hold the old one
	}
	if len(f.sockets) == 0 && h.feeds[f.contactID] == f {
		delete(h.feeds, f.contactID)
		delete(h.gaps, f)
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
	f.h.mu.Lock()
	sub := f.sub // set by join before it let go of h.mu
	f.h.mu.Unlock()
	for {
		if sub.IsDropped() {
			f.drop(closeLagging, "Fell behind; reconnect and read the transcript.")
			return
		}
		items := sub.Take()
		if len(items) == 0 {
			f.running.Store(false)
			// An item queued between Take and Store found the drain
			// running and did not start one: look once more.
			if (sub.Pending() == 0 && !sub.IsDropped()) || !f.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		f.mu.Lock()
		for _, it := range items {
			f.receive(it)
		}
		f.closeLeavers()
		f.mu.Unlock()
	}
}

// receive takes an item from the broker; under f.mu.
func (f *feed) receive(it store.Item) {
	if f.dead || (f.positioned && f.next != 0 && it.Seq < f.next) {
		return // delivered already
	}
	if f.positioned && f.next == 0 {
		f.next = it.Seq // positionless: the first item sets it
	}
	f.want = max(f.want, it.Seq)
	if f.positioned && it.Seq == f.next && len(f.pending) == 0 {
		// In order, as almost always: delivered without the map, which a
		// chat then never holds (a map keeps its size once grown).
		f.send(it)
		f.next++
		if f.want >= f.next {
			f.h.markGap(f)
		}
		return
	}
	if f.pending == nil {
		f.pending = make(map[int64]store.Item)
	}
	f.pending[it.Seq] = it
	if f.positioned {
		f.flush()
	}
}

// known notes that the store has items up to seq.
func (f *feed) known(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.positioned || f.dead || seq < f.next {
		return
	}
	f.want = max(f.want, seq)
	f.h.markGap(f)
}

// flush delivers the pending items that follow without a gap, and marks
// the feed if a gap remains; under f.mu.
func (f *feed) flush() {
	for {
		it, ok := f.pending[f.next]
		if !ok {
			break
		}
		delete(f.pending, f.next)
		f.send(it)
		f.next++
	}
	for seq := range f.pending {
		if seq < f.next {
			delete(f.pending, seq)
		}
	}
	if len(f.pending) == 0 {
		f.pending = nil // the gap is filled: let its items' map go
	}
	if len(f.pending) > 0 || f.want >= f.next {
		f.h.markGap(f)
	}
}

// repair reads from the store what the feed still lacks after GapWait.
func (f *feed) repair() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead || !f.positioned || f.next == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for f.next <= f.want {
		items, err := f.h.items(ctx, f.contactID, f.next, int(min(f.want-f.next+1, fillPage)))
		if err != nil {
			f.h.log.Warn("filling a gap in a chat's items", "contact", f.contactID, "from", f.next, "to", f.want, "err", err)
			f.h.markGap(f) // again after GapWait
			return
		}
		if len(items) == 0 || items[0].Seq > f.want {
			// Pruned (old ephemeral items): nothing left to deliver up to
			// want; what follows (committed since) comes as any item does.
			f.next = f.want + 1
			break
		}
		for _, it := range items {
			if it.Seq < f.next || it.Seq > f.want {
				continue
			}
			delete(f.pending, it.Seq)
			f.send(it)
			f.h.repairs.Add(1)
			f.next = it.Seq + 1
		}
	}
	f.flush()
	f.closeLeavers()
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
	sockets := f.sockets
	f.h.mu.Unlock()
	ends := it.ContentType == chat.EventChatEnded
	for _, s := range sockets {
		if !ends && it.ContentType == chat.EventParticipantLeft && it.ParticipantID == s.grant.ParticipantID {
			f.leaving = append(f.leaving, s)
		}
		s.offer(outFrame{data: frame, closes: ends})
	}
}

// closeLeavers queues a close behind what was sent to the sockets whose
// participant left; under f.mu. Closing right after the leave could
// overtake the chat.ended committed with it, and a client that has not
// seen the end reconnects (and is refused).
func (f *feed) closeLeavers() {
	for _, s := range f.leaving {
		s.offer(outFrame{closes: true})
	}
	f.leaving = nil
}

// drop ends a feed: its sockets close with status and reason. A feed
// that fell behind is dropped with closeLagging, and its clients reconnect
// and read the transcript.
func (f *feed) drop(status ws.StatusCode, reason string) {
	f.mu.Lock()
	f.dead = true
	f.mu.Unlock()
	f.h.mu.Lock()
	if f.h.feeds[f.contactID] == f {
		delete(f.h.feeds, f.contactID)
	}
	delete(f.h.gaps, f)
	sockets := f.sockets
	f.h.mu.Unlock()
	f.sub.Close()
	for _, s := range sockets {
		if status == closeLagging {
			s.g.slowDrops.Add(1)
		}
		s.close(status, reason)
	}
}
