package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, Floor, base},
		{Floor / 8, Floor, 800},
		{Floor / 2, Floor, 200},
		{Floor, Floor, base},
		{4 * Floor, Floor, base}, // large live data: GOGC=100 governs
		{1, Floor, 1600},         // bounded: the runtime's minimum heap scales with GOGC
		{1 << 20, Floor, 1600},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func TestEnabledRespectsTheOperator(t *testing.T) {
	for env, want := range map[string]bool{"": true, "GOGC": false, "GOMEMLIMIT": false} {
		got := Enabled(func(k string) string {
			if k == env {
				return "200"
			}
			return ""
		})
		if got != want {
			t.Errorf("with %q set: Enabled = %v, want %v", env, got, want)
		}
	}
}

func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// garbage makes n bytes of short-lived garbage, returning the collections
// it caused.
func garbage(n int) uint64 {
	runtime.GC()
	before := read("/gc/cycles/total:gc-cycles")
	for range n >> 10 {
		sink = make([]byte, 1<<10)
	}
	return read("/gc/cycles/total:gc-cycles") - before
}

// TestFloorMakesCollectionsRarer: with little live data the collector runs
// every few megabytes of garbage; with the floor, every Floor of it, and
// it follows the live heap, and the default comes back when it stops.
func TestFloorMakesCollectionsRarer(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	const n = 256 << 20
	without := garbage(n)

	stop := Start()
	if got := read("/gc/gogc:percent"); got <= base {
		t.Fatalf("GOGC = %d with little live data, want more than %d", got, base)
	}
	// The room is the floor, not more: Go scales its minimum heap with
	// GOGC, so an unbounded GOGC would let a tiny heap grow to gigabytes.
	if goal := read("/gc/heap/goal:bytes"); goal < Floor/2 || goal > Floor+Floor/4 {
		t.Errorf("heap goal %d MiB with the floor, want about %d MiB", goal>>20, Floor>>20)
	}
	with := garbage(n)
	// The floor follows the live heap from cycle to cycle: with 96 MiB
	// more of it, GOGC=100 governs again.
	held := make([][]byte, 96)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	runtime.GC() // the cleanup of the first cycle ran before the second ended
	grown := read("/gc/gogc:percent")
	runtime.KeepAlive(held)
	held = nil
	stop()
	if got := read("/gc/gogc:percent"); got != base {
		t.Errorf("GOGC after stop = %d, want %d", got, base)
	}
	if grown != base {
		t.Errorf("GOGC with 96 MiB live = %d, want %d", grown, base)
	}
	// 256 MiB of garbage is four floors' worth: about four collections,
	// never none (the room is a floor, not a ceiling to be raised).
	t.Logf("collections for %d MiB of garbage: %d without the floor, %d with it", n>>20, without, with)
	if with < 2 || with > 8 || with*4 > without {
		t.Errorf("with the floor: %d collections, without: %d; want 2 to 8, and a quarter at most", with, without)
	}
}
