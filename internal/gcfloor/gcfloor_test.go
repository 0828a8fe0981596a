package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
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

// settle collects until the tuner has caught up with the heap as it is
// (a cycle's cleanup runs after it ends, on the runtime's goroutine), and
// returns GOGC.
func settle(t *testing.T) int {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
		scanned := read("/gc/heap/live:bytes") + read("/gc/scan/stack:bytes") + read("/gc/scan/globals:bytes")
		got := int(read("/gc/gogc:percent"))
		if got == Percent(scanned, Floor) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC = %d after 5 s, want %d for %d MiB scanned", got, Percent(scanned, Floor), scanned>>20)
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
	t.Cleanup(stop)
	// A heap measured during a busy cycle counts what was allocated
	// meanwhile as live: settle on one measured at rest first.
	if got := settle(t); got <= base {
		t.Fatalf("GOGC = %d with little live data, want more than %d", got, base)
	}
	// The room is the floor, not more: Go scales its minimum heap with
	// GOGC, so an unbounded GOGC would let a tiny heap grow to gigabytes.
	if live, goal := read("/gc/heap/live:bytes"), read("/gc/heap/goal:bytes"); goal-live < Floor*9/10 || goal-live > Floor*5/4 {
		t.Errorf("heap goal %d MiB with %d MiB live, want about %d MiB of room", goal>>20, live>>20, Floor>>20)
	}
	with := garbage(n)
	// The floor follows the live heap from cycle to cycle: with 96 MiB
	// more of it, GOGC=100 governs again.
	held := make([][]byte, 96)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	grown := settle(t)
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
	// Without the floor, a heap this small takes one every few MiB.
	t.Logf("collections for %d MiB of garbage: %d without the floor, %d with it", n>>20, without, with)
	if with < 2 || with > 8 {
		t.Errorf("with the floor: %d collections (without: %d), want 2 to 8", with, without)
	}
}
