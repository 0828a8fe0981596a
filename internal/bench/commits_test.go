package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestParleyCommits reads the store's counters from a server's metrics
// (testdata/metrics.txt is a real server's, trimmed).
func TestParleyCommits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, "testdata/metrics.txt")
	}))
	defer srv.Close()
	s, err := parleyCommits(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := (commitStats{Batches: 28354, Items: 31973, Seconds: 14.332698486999965}); s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	parse := func(text string) error {
		m, err := parseMetrics(strings.NewReader(text))
		if err != nil {
			return err
		}
		_, err = commitsFrom(m)
		return err
	}
	if err := parse("go_goroutines 155\n"); !errors.Is(err, errNoCommitMetrics) {
		t.Fatalf("metrics without the store's series: %v", err)
	}
	if err := parse("parley_store_commits_total x\n"); err == nil {
		t.Fatal("a malformed value was read")
	}
	if _, err := parleyCommits(context.Background(), srv.Client(), srv.URL+"/nowhere"); err == nil {
		t.Fatal("a 404 was read as metrics")
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
