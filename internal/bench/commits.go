package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// commitStats is what a group committer did: the batches it made durable,
// the items (messages) in them, and the seconds it spent on them, from a
// batch's first statement to its durable commit. With one committer,
// Seconds over the load's duration is how busy it was: a committer busy
// most of the time queues what arrives behind it, which is where a latency
// tail grows.
type commitStats struct{ Batches, Items, Seconds float64 }

func (s commitStats) sub(o commitStats) commitStats {
	return commitStats{s.Batches - o.Batches, s.Items - o.Items, s.Seconds - o.Seconds}
}

func (s commitStats) add(o commitStats) commitStats {
	return commitStats{s.Batches + o.Batches, s.Items + o.Items, s.Seconds + o.Seconds}
}

// perBatch is the items a batch carried on average (0: no batch).
func (s commitStats) perBatch() float64 {
	if s.Batches <= 0 {
		return 0
	}
	return s.Items / s.Batches
}

// describe says how many items a commit carried and how busy the
// committer was over d, e.g. "1.2 messages a commit, busy 85%".
func (s commitStats) describe(d time.Duration) string {
	if s.Batches <= 0 || d <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f messages a commit, busy %.0f%%", s.perBatch(), 100*s.Seconds/d.Seconds())
}

// errNoCommitMetrics: the server's metrics lack the store's series.
var errNoCommitMetrics = errors.New("no parley_store_commits_total in the metrics")

// parseMetrics reads the unlabelled samples of a Prometheus text
// exposition, by name; lines it cannot read are skipped.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if f, err := strconv.ParseFloat(v, 64); ok && err == nil {
			m[name] = f
		}
	}
	return m, nil
}

// scrapeMetrics reads a Parley server's /metrics.
func scrapeMetrics(ctx context.Context, c *http.Client, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: %s", base, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// commitsFrom picks the store's commit counters out of a server's metrics.
func commitsFrom(m map[string]float64) (commitStats, error) {
	n, ok := m["parley_store_commits_total"]
	if !ok {
		return commitStats{}, errNoCommitMetrics
	}
	return commitStats{Batches: n, Items: m["parley_store_items_committed_total"],
		Seconds: m["parley_store_commit_duration_seconds_sum"]}, nil
}

// parleyCommits reads a Parley server's commit counters.
func parleyCommits(ctx context.Context, c *http.Client, base string) (commitStats, error) {
	m, err := scrapeMetrics(ctx, c, base)
	if err != nil {
		return commitStats{}, err
	}
	return commitsFrom(m)
}

// relayCommits reads the durable relay's (the baseline server's
// GET /durable/stats).
func relayCommits(ctx context.Context, c *http.Client, base string) (commitStats, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/durable/stats", nil)
	if err != nil {
		return commitStats{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return commitStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return commitStats{}, fmt.Errorf("GET %s/durable/stats: %s", base, resp.Status)
	}
	var s commitStats
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

// commitsOver runs f and returns what the committer read by read did
// meanwhile; ok is false when it could not be read (an older build).
func commitsOver(read func() (commitStats, error), f func() error) (s commitStats, ok bool, err error) {
	before, rerr := read()
	if err = f(); err != nil {
		return commitStats{}, false, err
	}
	after, aerr := read()
	if rerr != nil || aerr != nil {
		return commitStats{}, false, nil
	}
	return after.sub(before), true, nil
}
