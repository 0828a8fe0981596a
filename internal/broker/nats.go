package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/parleychat/parley/internal/store"
)

// maxNATSPayload keeps each message well under NATS's default 1 MB limit.
const maxNATSPayload = 256 << 10

// NATS is the broker of a cluster: the nodes on one database tell each
// other of committed items over core NATS, one subject per chat. It is a
// signal, not a store: at most once, no JetStream. A follower that misses
// an item sees the gap in the chat's seqs, or finds it by comparing with
// the store (OnTrouble says when to look at once), and reads the item from
// the database, the only truth.
//
// Items published on this node reach its own subscribers directly; NATS
// carries them to the other nodes (NoEcho: a node never hears itself).
type NATS struct {
	local   *Memory
	nc      *nats.Conn
	prefix  string
	log     *slog.Logger
	trouble atomic.Pointer[func()]

	mu     sync.Mutex
	follow map[string]*natsFollow // chat id → the node's NATS subscription

	// msgs receives every followed chat's messages: one goroutine reads
	// them all, rather than one per subscription as a handler would have.
	msgs chan *nats.Msg
	stop chan struct{}
	done chan struct{}
	once sync.Once

	Published, PublishFailed, Received atomic.Int64
}

type natsFollow struct {
	sub *nats.Subscription
	n   int // local subscribers
}

var _ Broker = (*NATS)(nil)

// NATSConfig configures DialNATS.
type NATSConfig struct {
	// URL is one or more nats:// URLs, comma-separated.
	URL string
	// Name is the node's name, shown by the NATS server.
	Name string
	// Prefix begins every subject; default "parley.chat.".
	Prefix string
	Log    *slog.Logger
}

// DialNATS connects to NATS. It returns at once even when no server
// answers: the connection keeps trying in the background, and until it
// succeeds followers repair from the store.
func DialNATS(cfg NATSConfig) (*NATS, error) {
	n := &NATS{local: NewMemory(), prefix: cfg.Prefix, log: cfg.Log, follow: make(map[string]*natsFollow),
		msgs: make(chan *nats.Msg, natsQueue), stop: make(chan struct{}), done: make(chan struct{})}
	if n.prefix == "" {
		n.prefix = "parley.chat."
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, 250*time.Millisecond),
		// Nothing is buffered while disconnected: followers repair from
		// the store after the reconnect, so a long outage costs no memory.
		nats.ReconnectBufSize(-1),
		nats.PingInterval(5*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(*nats.Conn) { cfg.Log.Info("NATS connected"); n.troubled() }),
		nats.ReconnectHandler(func(*nats.Conn) { cfg.Log.Info("NATS reconnected"); n.troubled() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // closed by us
			}
			cfg.Log.Warn("NATS disconnected; sends still commit, live delivery repairs from the database when it returns", "err", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				n.troubled() // it dropped messages for us
				return
			}
			cfg.Log.Warn("NATS", "err", err)
		}),
	)
	if err != nil {
		return nil, err
	}
	n.nc = nc
	go n.run()
	return n, nil
}

// natsQueue is how many messages may wait for the node; beyond it NATS
// drops them and reports a slow consumer, which starts a repair.
const natsQueue = 1 << 16

func (n *NATS) run() {
	defer close(n.done)
	for {
		select {
		case m := <-n.msgs:
			n.receive(m)
		case <-n.stop:
			return
		}
	}
}

// OnTrouble sets f to be called, without blocking, when messages may have
// been lost: on a (re)connect and on a slow-consumer error.
func (n *NATS) OnTrouble(f func()) { n.trouble.Store(&f) }

func (n *NATS) troubled() {
	if f := n.trouble.Load(); f != nil {
		(*f)()
	}
}

// Signal tells every other node, at most once and without waiting, that
// something node-wide changed (the console's queue); kind is a short
// payload the receivers interpret. It is a hint: a lost one costs only
// the receivers' periodic re-read.
func (n *NATS) Signal(kind string) {
	if err := n.nc.Publish(n.prefix+signalSubject, []byte(kind)); err != nil {
		n.log.Debug("NATS signal not sent", "err", err)
	}
}

// OnSignal calls f with each other node's Signal, on the NATS
// connection's goroutine, until Close; f must not block.
func (n *NATS) OnSignal(f func(kind string)) error {
	_, err := n.nc.Subscribe(n.prefix+signalSubject, func(m *nats.Msg) { f(string(m.Data)) })
	return err
}

// signalSubject follows the chats' prefix; subject refuses a contact id
// beginning with "_", so no chat's subject is this one.
const signalSubject = "_signal"

// Connected reports whether the node is connected to a NATS server.
func (n *NATS) Connected() bool { return n.nc.IsConnected() }

// Close closes the connection and stops the goroutine that reads it.
func (n *NATS) Close() {
	n.once.Do(func() {
		n.nc.Close()
		close(n.stop)
	})
	<-n.done
}

func (n *NATS) Subscribe(contactID string, limit int) *Subscription {
	return n.SubscribeFunc(contactID, limit, nil)
}

// SubscribeFunc follows a chat; the node subscribes to its subject while
// it has subscribers.
func (n *NATS) SubscribeFunc(contactID string, limit int, notify func()) *Subscription {
	s := n.local.SubscribeFunc(contactID, limit, notify)
	remove := s.cancel
	s.cancel = func(s *Subscription) {
		remove(s)
		n.release(contactID)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.follow[contactID]; f != nil {
		f.n++
		return s
	}
	f := &natsFollow{n: 1}
	if subject, ok := n.subject(contactID); ok {
		sub, err := n.nc.ChanSubscribe(subject, n.msgs)
		if err != nil {
			// The periodic check still finds this chat's items.
			n.log.Warn("NATS subscribe", "contact", contactID, "err", err)
		}
		f.sub = sub
	}
	n.follow[contactID] = f
	return s
}

func (n *NATS) release(contactID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := n.follow[contactID]
	if f == nil {
		return
	}
	if f.n--; f.n <= 0 {
		delete(n.follow, contactID)
		if f.sub != nil {
			f.sub.Unsubscribe()
		}
	}
}

// subject is a chat's subject; ids are UUIDs, but one that could change a
// subject's meaning is never published (followers repair from the store).
func (n *NATS) subject(contactID string) (string, bool) {
	if contactID == "" || contactID[0] == '_' || strings.ContainsAny(contactID, ". *>\t\r\n") {
		return "", false
	}
	return n.prefix + contactID, true
}

func (n *NATS) receive(m *nats.Msg) {
	var items []store.Item
	if err := json.Unmarshal(m.Data, &items); err != nil {
		n.log.Warn("a NATS message that is not Parley's", "subject", m.Subject, "err", err)
		return
	}
	// A chat's subject carries that chat's items only (Publish sends them
	// so): an item of another chat, from a stray or foreign publisher on
	// the bus, must not reach that chat's sockets.
	contactID := strings.TrimPrefix(m.Subject, n.prefix)
	mine := items[:0]
	for _, it := range items {
		if it.ContactID == contactID {
			mine = append(mine, it)
		}
	}
	if len(mine) < len(items) {
		n.log.Warn("a NATS message carried items of another chat; dropped them", "subject", m.Subject, "dropped", len(items)-len(mine))
	}
	n.Received.Add(int64(len(mine)))
	n.local.Publish(context.Background(), mine)
}

// Publish hands the items to this node's subscribers, then to NATS, one
// message per chat (several if large). It does not wait for NATS: an error
// only means some other nodes will repair from the store.
func (n *NATS) Publish(ctx context.Context, items []store.Item) error {
	n.local.Publish(ctx, items)
	msgs, errs := encodeMessages(items)
	for _, m := range msgs {
		subject, ok := n.subject(m.contactID)
		if !ok {
			continue
		}
		if err := n.nc.Publish(subject, m.data); err != nil {
			n.PublishFailed.Add(1)
			errs = errors.Join(errs, err)
			continue
		}
		n.Published.Add(1)
	}
	return errs
}

// natsMessage is one message of a chat's items, as NATS carries it.
type natsMessage struct {
	contactID string
	data      []byte
}

// encodeMessages groups items by chat, in the order their chats first
// appear, and encodes each chat's as JSON arrays of at most
// maxNATSPayload bytes.
func encodeMessages(items []store.Item) ([]natsMessage, error) {
	var errs error
	byChat := make(map[string][][]byte)
	var order []string
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		if _, ok := byChat[it.ContactID]; !ok {
			order = append(order, it.ContactID)
		}
		byChat[it.ContactID] = append(byChat[it.ContactID], b)
	}
	var out []natsMessage
	for _, id := range order {
		for _, msg := range chunk(byChat[id]) {
			out = append(out, natsMessage{id, msg})
		}
	}
	return out, errs
}

// chunk joins encoded items into JSON arrays of at most maxNATSPayload
// bytes (one item alone may be larger).
func chunk(encoded [][]byte) [][]byte {
	var out [][]byte
	var cur []byte
	for _, b := range encoded {
		if len(cur) > 0 && len(cur)+len(b)+2 > maxNATSPayload {
			out = append(out, append(cur, ']'))
			cur = nil
		}
		if len(cur) == 0 {
			cur = append(cur, '[')
		} else {
			cur = append(cur, ',')
		}
		cur = append(cur, b...)
	}
	if len(cur) > 0 {
		out = append(out, append(cur, ']'))
	}
	return out
}
