package postgres

import (
	"context"
	"encoding/json"

	"github.com/parleychat/parley/internal/store"
)

// applyChatFeatures applies a change's persistent-chat, transfer,
// supervisor and streaming parts. The contacts they change are locked
// (chatIDs), so conditions read here hold until commit.
func (b *batchTx) applyChatFeatures(ctx context.Context, c *store.Change) error {
	if p := c.Persist; p != nil {
		if b.chats[p.ContactID] == nil {
			return store.ErrNotFound
		}
		n, err := b.exec(ctx, `UPDATE contacts SET related_contact_id = $1, continued_from_id = $1, rehydration_type = $2,
			updated_at = GREATEST(updated_at, $3) WHERE id = $4 AND continued_from_id = ''`,
			p.SourceID, p.RehydrationType, ms(p.At), p.ContactID)
		if constraint(err) == "contacts_continued_from" {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
	}
	if id := c.AnnounceRehydration; id != "" {
		n, err := b.exec(ctx, `UPDATE contacts SET rehydration_announced = true WHERE id = $1 AND NOT rehydration_announced`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
	}
	if q := c.Requeue; q != nil {
		n, err := b.exec(ctx, `UPDATE contacts SET state = $1, agent_id = '', connected_at = 0, transfer_to = $2,
			updated_at = GREATEST(updated_at, $3), requeued_at = $3 WHERE id = $4 AND state = $5`,
			store.ContactQueued, q.TransferTo, ms(q.At), q.ContactID, store.ContactConnected)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
		if k := b.chats[q.ContactID]; k != nil {
			k.state = store.ContactQueued
		}
	}
	if id := c.Barge; id != "" {
		n, err := b.exec(ctx, `UPDATE participants SET barged = true WHERE id = $1 AND state = 'JOINED' AND NOT barged`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrConflict
		}
	}
	if pt := c.ParticipantToken; pt != nil {
		n, err := b.exec(ctx, `UPDATE participants SET token_hash = $1 WHERE id = $2`, pt.TokenHash, pt.ParticipantID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
	}
	if st := c.StartStream; st != nil {
		k := b.chats[st.ContactID]
		if k == nil {
			return store.ErrNotFound
		}
		if _, err := b.exec(ctx, `INSERT INTO streams (id, contact_id, endpoint_arn, started_at) VALUES ($1, $2, $3, $4)`,
			st.ID, st.ContactID, st.EndpointARN, ms(st.StartedAt)); err != nil {
			return err
		}
		if _, err := b.exec(ctx, `UPDATE contacts SET active_streams = active_streams + 1 WHERE id = $1`, st.ContactID); err != nil {
			return err
		}
		k.streams++
	}
	if st := c.StopStream; st != nil {
		var stopped int64
		if err := b.tx.QueryRow(ctx, `SELECT stopped_at FROM streams WHERE id = $1 AND contact_id = $2`, st.StreamID, st.ContactID).Scan(&stopped); err != nil {
			return notFound(err)
		}
		if stopped == 0 {
			if _, err := b.exec(ctx, `UPDATE streams SET stopped_at = $1 WHERE id = $2`, ms(st.At), st.StreamID); err != nil {
				return err
			}
			if _, err := b.exec(ctx, `UPDATE contacts SET active_streams = active_streams - 1 WHERE id = $1`, st.ContactID); err != nil {
				return err
			}
			if k := b.chats[st.ContactID]; k != nil {
				k.streams--
			}
		}
	}
	if len(c.DeliveriesDone) > 0 {
		if _, err := b.exec(ctx, `DELETE FROM stream_outbox WHERE id = ANY($1)`, c.DeliveriesDone); err != nil {
			return err
		}
	}
	for _, r := range c.DeliveryRetries {
		if _, err := b.exec(ctx, `UPDATE stream_outbox SET attempts = $1, next_at = $2 WHERE id = $3`, r.Attempts, ms(r.NextAt), r.ID); err != nil {
			return err
		}
	}
	return nil
}

// queueDeliveries queues numbered items for their contacts' active
// streams, under the contacts' locks, so that each contact's deliveries
// get ids in commit order.
func (b *batchTx) queueDeliveries(ctx context.Context, items []store.Item) error {
	for _, it := range items {
		if k := b.chats[it.ContactID]; k == nil || k.streams <= 0 {
			continue
		}
		j, _ := json.Marshal(it)
		if _, err := b.exec(ctx, `INSERT INTO stream_outbox (stream_id, contact_id, item, next_at, created_at)
			SELECT id, contact_id, $1, $2, $2 FROM streams WHERE contact_id = $3 AND stopped_at = 0 ORDER BY id`,
			string(j), it.Time.UnixMilli(), it.ContactID); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) Streams(ctx context.Context, contactID string) ([]store.Stream, error) {
	return collect(db, ctx, func(row rowScanner) (store.Stream, error) {
		var st store.Stream
		var started, stopped int64
		err := row.Scan(&st.ID, &st.ContactID, &st.EndpointARN, &started, &stopped)
		st.StartedAt, st.StoppedAt = fromMS(started), fromMS(stopped)
		return st, err
	}, `SELECT id, contact_id, endpoint_arn, started_at, stopped_at FROM streams WHERE contact_id = $1 ORDER BY started_at, id`, contactID)
}

func (db *DB) Deliveries(ctx context.Context, limit int) ([]store.Delivery, error) {
	return collect(db, ctx, func(row rowScanner) (store.Delivery, error) {
		var d store.Delivery
		var item string
		var next, created int64
		if err := row.Scan(&d.ID, &d.StreamID, &d.ContactID, &d.EndpointARN, &item, &d.Attempts, &next, &created); err != nil {
			return d, err
		}
		d.NextAt, d.CreatedAt = fromMS(next), fromMS(created)
		return d, json.Unmarshal([]byte(item), &d.Item)
	}, `SELECT o.id, o.stream_id, o.contact_id, s.endpoint_arn, o.item, o.attempts, o.next_at, o.created_at
		FROM stream_outbox o JOIN streams s ON s.id = o.stream_id ORDER BY o.id LIMIT $1`, limit)
}
