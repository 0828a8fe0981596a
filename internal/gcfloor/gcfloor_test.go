package gcfloor

import (
	"context"
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
		{1, Floor, 1 << 20},      // bounded
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
// the default comes back when Run ends.
func TestFloorMakesCollectionsRarer(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	const n = 256 << 20
	without := garbage(n)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx)
	}()
	for deadline := time.Now().Add(5 * time.Second); read("/gc/gogc:percent") <= base; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("GOGC stayed at the default with little live data")
		}
	}
	with := garbage(n)
	cancel()
	<-done
	if got := read("/gc/gogc:percent"); got != base {
		t.Errorf("GOGC after Run = %d, want %d", got, base)
	}
	// 256 MiB of garbage is at most about four floors' worth.
	t.Logf("collections for %d MiB of garbage: %d without the floor, %d with it", n>>20, without, with)
	if with > 8 || with*4 > without {
		t.Errorf("with the floor: %d collections, without: %d; want at most 8 and a quarter", with, without)
	}
}
