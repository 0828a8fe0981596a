package broker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// publishTimeout bounds one Publish: a broker that does not answer costs
// its followers that batch (they repair from the store), not the others.
const publishTimeout = 5 * time.Second

// Publisher carries committed items to a broker off the store's writer.
// Committed, the store's commit hook, only appends to a queue and wakes the
// publisher's goroutine, so a slow or failing broker never holds up a group
// commit. Items are published in commit order, each identified by
// (ContactID, Seq): a follower that misses one sees the gap in the chat's
// seqs and reads the rest from the store.
type Publisher struct {
	b     Broker
	log   *slog.Logger
	mu    sync.Mutex
	queue []store.Item
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

// NewPublisher starts a publisher to b; Close stops it.
func NewPublisher(b Broker, log *slog.Logger) *Publisher {
	p := &Publisher{b: b, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// Committed queues committed items for publishing. It never blocks.
func (p *Publisher) Committed(items []store.Item) {
	p.mu.Lock()
	p.queue = append(p.queue, items...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default: // the publisher is awake already
	}
}

func (p *Publisher) run() {
	defer close(p.done)
	for {
		select {
		case <-p.wake:
			p.publish()
		case <-p.stop:
			p.publish() // what was committed before Close
			return
		}
	}
}

func (p *Publisher) publish() {
	for {
		p.mu.Lock()
		items := p.queue
		p.queue = nil
		p.mu.Unlock()
		if len(items) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		if err := p.b.Publish(ctx, items); err != nil {
			p.log.Warn("publishing committed items failed; followers repair from the store", "items", len(items), "err", err)
		}
		cancel()
	}
}

// Close publishes what is queued and stops the publisher. Close the store
// first: its last commits call Committed.
func (p *Publisher) Close() {
	close(p.stop)
	<-p.done
}
