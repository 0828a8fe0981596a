package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestParseCommitMetrics reads the store's counters from a server's
// metrics (testdata/metrics.txt is a real server's, trimmed).
func TestParseCommitMetrics(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := parseCommitMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	if want := (commitStats{Batches: 28354, Items: 31973, Seconds: 14.332698486999965}); s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	if _, err := parseCommitMetrics(strings.NewReader("go_goroutines 155\n")); !errors.Is(err, errNoCommitMetrics) {
		t.Fatalf("metrics without the store's series: %v", err)
	}
	if _, err := parseCommitMetrics(strings.NewReader("parley_store_commits_total x\n")); err == nil {
		t.Fatal("a malformed value was read")
	}
}

func TestCommitStatsDescribe(t *testing.T) {
	for _, c := range []struct {
		s    commitStats
		d    time.Duration
		want string
	}{
		{commitStats{Batches: 20000, Items: 24000, Seconds: 8.5}, 10 * time.Second, "1.2 messages a commit, busy 85%"},
		{commitStats{Batches: 400, Items: 20000, Seconds: 2}, 10 * time.Second, "50.0 messages a commit, busy 20%"},
		{commitStats{}, 10 * time.Second, "—"},
	} {
		if got := c.s.describe(c.d); got != c.want {
			t.Errorf("%+v over %v: %q, want %q", c.s, c.d, got, c.want)
		}
	}
	a, b := commitStats{10, 30, 2}, commitStats{4, 6, 0.5}
	if got := a.sub(b); got != (commitStats{6, 24, 1.5}) {
		t.Errorf("sub: %+v", got)
	}
	if got := a.sub(b).add(b); got != a {
		t.Errorf("add: %+v", got)
	}
}

// TestDurableLogStats: the durable relay counts every record once, and
// no more batches than records.
func TestDurableLogStats(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := openDurableLog(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 20
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := l.append(fmt.Sprintf("c%d", g), []byte("m")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s := l.stats()
	if s.Items != writers*each {
		t.Fatalf("%v records counted, want %d", s.Items, writers*each)
	}
	if s.Batches < 1 || s.Batches > s.Items {
		t.Fatalf("%v batches for %v records", s.Batches, s.Items)
	}
	if s.Seconds <= 0 {
		t.Fatalf("busy %vs", s.Seconds)
	}
}

// TestCommitsOver brackets a run with two readings, and says when it
// could not read.
func TestCommitsOver(t *testing.T) {
	n := 0.0
	read := func() (commitStats, error) { n += 5; return commitStats{Batches: n, Items: 2 * n}, nil }
	s, ok, err := commitsOver(read, func() error { return nil })
	if err != nil || !ok || s != (commitStats{Batches: 5, Items: 10}) {
		t.Fatalf("%+v %v %v", s, ok, err)
	}
	broken := func() (commitStats, error) { return commitStats{}, errNoCommitMetrics }
	if _, ok, err := commitsOver(broken, func() error { return nil }); ok || err != nil {
		t.Fatalf("an unreadable committer: ok %v, err %v", ok, err)
	}
	boom := errors.New("boom")
	if _, _, err := commitsOver(read, func() error { return boom }); err != boom {
		t.Fatalf("the run's error: %v", err)
	}
}
