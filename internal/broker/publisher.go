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
//
// The in-process broker (Memory) never blocks or fails: Committed publishes
// to it directly, which spares every delivery a hand-off to the publisher's
// goroutine (a wake-up, and on a busy machine a wait for a CPU).
type Publisher struct {
	b      Broker
	direct *Memory // b, when it is the in-process broker
	log    *slog.Logger
	mu     sync.Mutex
	queue  []store.Item
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	// failing says the last publish failed; owned by run.
	failing bool
}

// NewPublisher starts a publisher to b; Close stops it.
func NewPublisher(b Broker, log *slog.Logger) *Publisher {
	p := &Publisher{b: b, log: log, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	p.direct, _ = b.(*Memory)
	go p.run()
	return p
}

// Committed queues committed items for publishing. It never blocks.
func (p *Publisher) Committed(items []store.Item) {
	if p.direct != nil {
		// The store calls the hook from one goroutine, in commit order.
		p.direct.Publish(context.Background(), items)
		return
	}
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
			// Once per outage, not once per batch: a bus that is down fails
			// every publish until it returns.
			if !p.failing {
				p.log.Warn("publishing committed items failed; followers repair from the store", "items", len(items), "err", err)
			}
			p.failing = true
		} else if p.failing {
			p.failing = false
			p.log.Info("publishing committed items again")
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
