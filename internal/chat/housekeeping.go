package chat

import (
	"context"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// IdempotencyWindow is how long a ClientToken is honoured: a retry within
// it returns the first result. Seven days, as Connect documents for
// StartOutboundChatContact's ClientToken, and the longest a chat lasts.
// Messages, attachments and other transcript items keep their token for
// as long as they are kept.
const IdempotencyWindow = 7 * 24 * time.Hour

// EphemeralWindow is how long items that are not in the transcript (typing,
// receipts' announcements) are kept, and with them their ClientToken: they
// are delivered live, and are kept only so that a retry is not delivered
// twice.
const EphemeralWindow = time.Hour

// tokenGrace keeps an expired ConnectionToken a while, so that a client
// using it just after its expiry hears that it expired.
const tokenGrace = time.Hour

const (
	housekeepingEvery = time.Minute
	pruneBatch        = 1000
)

// runHousekeeping prunes what no request needs any more and deletes uploads
// that were never completed, every housekeepingEvery until ctx is done.
func (s *Service) runHousekeeping(ctx context.Context) {
	t := time.NewTicker(housekeepingEvery)
	defer t.Stop()
	for {
		if err := s.housekeeping(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("housekeeping", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) housekeeping(ctx context.Context) error {
	if err := s.prune(ctx); err != nil {
		return err
	}
	if err := s.expireChats(ctx); err != nil {
		return err
	}
	if s.cfg.Blobs != nil {
		return s.dropAbandoned(ctx)
	}
	return nil
}

// prune deletes expired connection tokens, idempotency records past their
// window and old ephemeral items, in batches that each hold the writer
// briefly.
func (s *Service) prune(ctx context.Context) error {
	now := s.now()
	// One kind at a time, so that the metrics can say what was pruned.
	for _, k := range []struct {
		kind string
		p    store.Prune
	}{
		{"tokens", store.Prune{TokensExpiredBefore: now.Add(-tokenGrace)}},
		{"idempotency", store.Prune{IdempotencyBefore: now.Add(-IdempotencyWindow)}},
		{"ephemeral_items", store.Prune{EphemeralBefore: now.Add(-EphemeralWindow)}},
	} {
		k.p.Limit = pruneBatch
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := s.store.Prune(ctx, k.p)
			s.cfg.Metrics.Pruned(k.kind, n)
			if err != nil {
				return err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	return nil
}
