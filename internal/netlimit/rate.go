package netlimit

import (
	"sync"
	"time"
)

// Rate is a token bucket's shape: PerSecond tokens a second, up to Burst
// saved. PerSecond ≤ 0 means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limiter rate-limits by key, one token bucket per key. Buckets that have
// refilled are dropped as it goes, so memory follows the keys active in
// the last few minutes. The zero Rate, or a nil *Limiter, allows all.
type Limiter struct {
	rate Rate
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter for r.
func NewLimiter(r Rate) *Limiter {
	return &Limiter{rate: r, now: time.Now, buckets: map[string]*bucket{}}
}

// sweepEvery is how often full buckets are dropped.
const sweepEvery = time.Minute

// Allow takes a token from key's bucket, reporting whether there was one.
func (l *Limiter) Allow(key string) bool {
	if l == nil || l.rate.PerSecond <= 0 {
		return true
	}
	now := l.now()
	burst := float64(max(l.rate.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > sweepEvery {
		l.sweep(now, burst)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*l.rate.PerSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops the buckets that are full again: a new one starts full.
func (l *Limiter) sweep(now time.Time, burst float64) {
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate.PerSecond >= burst {
			delete(l.buckets, k)
		}
	}
}

// Len is the number of buckets kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
