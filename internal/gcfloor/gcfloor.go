// Package gcfloor gives Go's garbage collector a floor of room.
//
// With GOGC=100 the heap may grow by about its live data before the next
// collection. A Parley node under send load holds little live data (tens of
// megabytes) and makes garbage fast, so it collects many times a second:
// marking and assisting took a sixth of a node's CPU at 12,000
// SendMessage/s on PostgreSQL. Keeping at least Floor of room while the
// live data is small makes collections rarer, at the cost of at most Floor
// of memory; once the live data is large (100,000 idle participants hold
// hundreds of megabytes) GOGC=100 governs as before. It is the heap-floor
// tuning Uber and TiDB describe for their Go services.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Floor is the least room the heap is given before a collection.
const Floor = 64 << 20

// base is the GOGC Parley keeps once the live data exceeds Floor.
const base = 100

// heapMinimum is Go's least heap goal at GOGC=100, which the runtime
// scales with GOGC (runtime/mgcpacer.go, defaultHeapMinimum).
const heapMinimum = 4 << 20

// Percent is the GOGC that gives a heap whose collector scans scanned
// bytes (live heap, stacks and globals) at least floor of room:
// floor/scanned, in percent, at least base. It is at most
// floor/heapMinimum: beyond, the runtime's scaled minimum heap would
// exceed the floor (GOGC=65536 would let a tiny heap grow to 2.6 GB).
func Percent(scanned, floor uint64) int {
	if scanned == 0 {
		return base
	}
	return max(base, int(min(floor*100/scanned, floor*100/heapMinimum)))
}

// Enabled says whether Start should tune: not when the operator chose the
// collector's pace (GOGC) or a memory limit (GOMEMLIMIT) themselves.
func Enabled(getenv func(string) string) bool {
	return getenv("GOGC") == "" && getenv("GOMEMLIMIT") == ""
}

// tuner sets GOGC once a collection has ended, from what that collection
// found live. It holds no goroutine: a cleanup on an object dropped at
// once runs after the next cycle and arms the next one (a cleanup that
// runs late, during the next cycle's marking, skips that cycle).
// SetGCPercent costs a lock, so it is called whenever the value moves.
type tuner struct {
	mu      sync.Mutex
	stopped bool
	current int
	sample  []metrics.Sample
}

// sentinel is what each cycle collects. The pointer keeps it out of the
// tiny allocator, whose blocks may outlive their objects.
type sentinel struct {
	_ *byte
	_ [8]byte
}

// Start keeps GOGC at Percent(live heap + stacks + globals, Floor) until
// stop, which restores the default. It is process-wide: the process's
// entry point starts it once (server.Run), never a library.
func Start() (stop func()) {
	if !Enabled(os.Getenv) {
		return func() {}
	}
	t := &tuner{current: base, sample: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	t.tune()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(base)
	}
}

// tune reads the live heap, sets GOGC, and arms itself for the next cycle.
func (t *tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	var scanned uint64
	for _, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			scanned += s.Value.Uint64()
		}
	}
	if p := Percent(scanned, Floor); p != t.current {
		debug.SetGCPercent(p)
		t.current = p
	}
	runtime.AddCleanup(new(sentinel), func(t *tuner) { t.tune() }, t)
}
