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
// tuning Uber and TiDB describe for their Go services, bounded the same way.
package gcfloor

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor is the least room the heap is given before a collection.
const Floor = 64 << 20

// base is the GOGC Parley keeps once the live data exceeds Floor.
const base = 100

// every is how often the live heap is read: a collection under load comes
// every few hundred milliseconds at the floor, and reading the metric
// costs a microsecond.
const every = 100 * time.Millisecond

// Percent is the GOGC that gives a heap of live bytes at least floor of
// room: max(base, floor/live), in percent.
func Percent(live, floor uint64) int {
	if live == 0 {
		return base
	}
	return max(base, int(min(floor*100/live, 1<<20)))
}

// Enabled says whether Run should tune: not when the operator chose the
// collector's pace (GOGC) or a memory limit (GOMEMLIMIT) themselves.
func Enabled(getenv func(string) string) bool {
	return getenv("GOGC") == "" && getenv("GOMEMLIMIT") == ""
}

// Run keeps GOGC at Percent(live heap, Floor) until ctx ends, then
// restores the default. It is process-wide: the process's entry point runs
// it once (server.Run), never a library.
func Run(ctx context.Context) {
	if !Enabled(os.Getenv) {
		return
	}
	defer debug.SetGCPercent(base)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := base
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			// Change only on a move of more than a tenth, so that a
			// steady heap is not re-tuned on every reading.
			if p := Percent(sample[0].Value.Uint64(), Floor); p*10 > current*11 || p*11 < current*10 {
				debug.SetGCPercent(p)
				current = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
