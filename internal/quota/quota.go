// Package quota applies Amazon Connect's documented API request rates, on
// request (PARLEY_THROTTLE=connect), so that users can test their retry
// logic against Parley. It is not protection: the protective limits live
// elsewhere and stay on either way.
//
// The rates are the defaults of the Amazon Connect Administrator Guide,
// "Amazon Connect service quotas" → "API throttling quotas" and "Participant
// Service API throttling quotas" (awsdocs/amazon-connect-admin-guide,
// doc_source/amazon-connect-service-limits.md). Connect counts the Connect
// API per account and Region and the participant API per instance; a Parley
// server is one instance of one account, so a bucket per operation is both.
package quota

import (
	"sync"
	"time"
)

// Rate is a token bucket's steady rate (requests a second) and burst.
type Rate struct {
	PerSecond float64
	Burst     float64
}

// Connect holds the Connect API's rates by operation; operations not named
// get ConnectDefault.
var Connect = map[string]Rate{
	"StartChatContact":      {5, 8},
	"StartContactStreaming": {5, 8},
	"StopContactStreaming":  {5, 8},
}

// ConnectDefault is "all other operations" of the Connect API.
var ConnectDefault = Rate{2, 5}

// Participant holds the participant API's rates; operations the guide does
// not list are not throttled.
var Participant = map[string]Rate{
	"CreateParticipantConnection": {6, 9},
	"DisconnectParticipant":       {3, 5},
	"GetTranscript":               {8, 12},
	"SendEvent":                   {10, 15},
	"SendMessage":                 {10, 15},
	"StartAttachmentUpload":       {2, 5},
	"CompleteAttachmentUpload":    {2, 5},
	"GetAttachment":               {8, 12},
}

// Limiter is a set of token buckets, one per key. A nil *Limiter allows
// everything, so that callers need not check whether throttling is on.
type Limiter struct {
	rates    map[string]Rate
	fallback *Rate
	now      func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter with the given rates per operation; fallback, if not
// nil, applies to operations without a rate of their own.
func New(rates map[string]Rate, fallback *Rate) *Limiter {
	return &Limiter{rates: rates, fallback: fallback, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes a token for operation op of instance, if one is left.
func (l *Limiter) Allow(instance, op string) bool {
	if l == nil {
		return true
	}
	r, ok := l.rates[op]
	if !ok {
		if l.fallback == nil {
			return true
		}
		r = *l.fallback
	}
	now := l.now()
	key := instance + "\x00" + op // the operations are few, so the map stays small
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: r.Burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(r.Burst, b.tokens+now.Sub(b.at).Seconds()*r.PerSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
