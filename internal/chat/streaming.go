package chat

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Delivery retries back off from retryFirst, doubling, to retryMax; a
// delivery still failing deliveryGiveUp after its item was committed is
// dropped (and logged).
const (
	retryFirst     = time.Second
	retryMax       = 5 * time.Minute
	deliveryGiveUp = 24 * time.Hour
	deliveryBatch  = 256
)

// StartStreaming starts streaming a chat's messages and events to the
// endpoint of a topic ARN (StartContactStreaming); a stream to the same
// ARN already running is returned again, and a retry with the same
// clientToken (within IdempotencyWindow) gets the first answer.
func (s *Service) StartStreaming(ctx context.Context, instanceID, contactID, arn, clientToken string) (string, error) {
	scope := "start-streaming:" + instanceID
	// The record keeps what it answered, so that the token reused for
	// another contact or endpoint is not answered with this stream.
	var first struct{ StreamingID, ContactID, EndpointARN string }
	mismatch := func() error {
		if first.ContactID != "" && (first.ContactID != contactID || first.EndpointARN != arn) {
			return errorf(Mismatch, "ClientToken %s was used for a request to stream another contact or to another endpoint.", clientToken)
		}
		return nil
	}
	if ok, err := s.idempotent(ctx, scope, clientToken, &first); ok || err != nil {
		if err == nil {
			err = mismatch()
		}
		return first.StreamingID, err
	}
	c, _, err := s.Contact(ctx, instanceID, contactID)
	if err != nil {
		return "", err
	}
	if c.State == store.ContactEnded {
		return "", errorf(Invalid, "Contact %s has ended; only a live chat can be streamed.", contactID)
	}
	if s.cfg.Streams == nil || !s.cfg.Streams.Configured(arn) {
		return "", errorf(Invalid, "No endpoint is configured for %s: set PARLEY_STREAMING_ENDPOINTS.", arn)
	}
	streams, err := s.store.Streams(ctx, contactID)
	if err != nil {
		return "", err
	}
	for _, st := range streams {
		if st.StoppedAt.IsZero() && st.EndpointARN == arn {
			return st.ID, nil
		}
	}
	st := store.Stream{ID: secret.NewUUID(), ContactID: contactID, EndpointARN: arn, StartedAt: s.now()}
	first.StreamingID, first.ContactID, first.EndpointARN = st.ID, contactID, arn
	if _, err := s.store.Apply(ctx, &store.Change{RequireActive: contactID, StartStream: &st,
		Idempotency: s.idempotencyRecord(scope, contactID, clientToken, first)}); err != nil {
		if errors.Is(err, store.ErrDuplicate) { // a concurrent retry won
			if _, err = s.idempotent(ctx, scope, clientToken, &first); err == nil {
				err = mismatch()
			}
			return first.StreamingID, err
		}
		if errors.Is(err, store.ErrEnded) {
			return "", errorf(Invalid, "Contact %s has ended; only a live chat can be streamed.", contactID)
		}
		return "", err
	}
	return st.ID, nil
}

// StopStreaming stops a stream (StopContactStreaming); what it queued is
// still delivered.
func (s *Service) StopStreaming(ctx context.Context, instanceID, contactID, streamID string) error {
	if _, _, err := s.Contact(ctx, instanceID, contactID); err != nil {
		return err
	}
	_, err := s.store.Apply(ctx, &store.Change{StopStream: &store.StopStream{ContactID: contactID, StreamID: streamID, At: s.now()}})
	if errors.Is(err, store.ErrNotFound) {
		return errorf(NotFound, "Streaming %s not found on contact %s.", streamID, contactID)
	}
	return err
}

// WakeStreams tells the deliverer that a commit may have queued
// deliveries; the store's commit hook calls it.
func (s *Service) WakeStreams() {
	select {
	case s.streamWake <- struct{}{}:
	default:
	}
}

// runStreams delivers queued items until ctx ends: each stream's in commit
// order, a failed one holding back those after it until its retry.
func (s *Service) runStreams(ctx context.Context) {
	for {
		wait := s.deliverRound(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.streamWake:
		case <-t.C:
		}
		t.Stop()
	}
}

// deliverRound attempts what is due and returns how long to wait before
// the next round (at most a second, so a missed wake costs little).
func (s *Service) deliverRound(ctx context.Context) time.Duration {
	wait := time.Second
	ds, err := s.store.Deliveries(ctx, deliveryBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("reading the stream outbox", "err", err)
		}
		return wait
	}
	ch := &store.Change{}
	held := map[string]bool{} // streams whose head is not delivered yet
	now := s.now()
	for _, d := range ds {
		if held[d.StreamID] {
			continue
		}
		if d.NextAt.After(now) {
			held[d.StreamID] = true
			wait = min(wait, d.NextAt.Sub(now))
			continue
		}
		err := s.deliver(ctx, d)
		if ctx.Err() != nil {
			break
		}
		switch {
		case err == nil:
			ch.DeliveriesDone = append(ch.DeliveriesDone, d.ID)
		case now.Sub(d.CreatedAt) > deliveryGiveUp:
			s.log.Error("stream delivery abandoned after 24h", "contact", d.ContactID, "stream", d.StreamID, "item", d.Item.ID, "err", err)
			ch.DeliveriesDone = append(ch.DeliveriesDone, d.ID)
		default:
			backoff := min(retryFirst<<min(d.Attempts, 20), retryMax)
			s.log.Warn("stream delivery failed; will retry", "contact", d.ContactID, "stream", d.StreamID, "attempt", d.Attempts+1, "in", backoff, "err", err)
			ch.DeliveryRetries = append(ch.DeliveryRetries, store.DeliveryRetry{ID: d.ID, Attempts: d.Attempts + 1, NextAt: now.Add(backoff)})
			held[d.StreamID] = true
			wait = min(wait, backoff)
		}
	}
	if len(ch.DeliveriesDone) > 0 || len(ch.DeliveryRetries) > 0 {
		if _, err := s.store.Apply(context.WithoutCancel(ctx), ch); err != nil {
			s.log.Error("recording stream deliveries", "err", err)
		}
		if len(ch.DeliveriesDone) > 0 {
			wait = 0 // more may be queued
		}
	}
	return wait
}

// deliver posts one item, with the body Connect streams: the item as the
// participant service has it, with its ContactId and InitialContactId.
func (s *Service) deliver(ctx context.Context, d store.Delivery) error {
	w := chatwire.FromStore(d.Item)
	initial, instance := d.ContactID, s.cfg.InstanceID
	if c, err := s.store.Contact(ctx, d.ContactID); err == nil {
		initial, instance = c.InitialContactID, c.InstanceID
	}
	w.InitialContactId = initial
	msg, _ := json.Marshal(w)
	// The message attributes of Connect's SNS payload (admin guide, "Use
	// the Amazon SNS payload after enabling message streaming").
	attrs := map[string]string{"ContactId": d.ContactID, "InitialContactId": initial, "Type": w.Type,
		"MessageVisibility": "ALL", "InstanceId": instance, "AccountId": s.cfg.AccountID}
	if w.ContentType != "" {
		attrs["ContentType"] = w.ContentType
	}
	if w.ParticipantRole != "" {
		attrs["ParticipantRole"] = w.ParticipantRole
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The delivery's id is stable across retries, so a receiver can
	// drop a duplicate.
	return s.cfg.Streams.Send(sctx, d.EndpointARN, deliveryID(d), string(msg), attrs, d.Item.Time)
}

func deliveryID(d store.Delivery) string { return d.StreamID + "/" + d.Item.ID }
