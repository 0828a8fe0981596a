package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The idle figure: what a connected, silent participant costs the server,
// split into its websocket and its chat state, and the server's RSS with
// 100,000 of them (issue 17).
//
// The split: n participants connect one socket each, then half of them a
// second socket. A second socket of a participant whose chat the node
// follows already costs only the websocket; the first socket's cost less
// the second's is the chat state (the hub's feed and broker subscription,
// the participant's presence).

// idleRounds is how many sockets the two rounds open, n for the first
// (from Options.IdleSockets) and m for the second, within the open-file
// limit that both the server and this process live under.
func idleRounds(n int, files int) (first, second int) {
	budget := files - 500 // the server's database and HTTP connections, ours
	first = min(n, budget)
	second = max(0, min(first/2, budget-first))
	return first, second
}

// fileLimit is this process's open-file limit, which the server it starts
// inherits (Go raises the soft limit to the hard one at start).
func fileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	return int(min(r.Cur, 1<<20))
}

// heapProfile saves the server's heap profile as idle-heap-NAME.pb.gz when
// it serves pprof (PARLEY_PPROF), so that `go tool pprof -base` can
// attribute a round's growth: a chat state and a websocket, by function.
func heapProfile(ctx context.Context, name string) {
	addr := os.Getenv("PARLEY_PPROF")
	if addr == "" {
		return
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	f, err := os.Create("idle-heap-" + name + ".pb.gz")
	if err != nil {
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

// goMemKB reads the Go runtime's view of the server's memory from its
// metrics: what Go has from the system, and of it the heap spans in use
// (live and not yet swept) and the stacks. The rest of the RSS is the
// SQLite library's own allocations (page cache) and the binary.
func (b *bench) goMemKB(ctx context.Context) (sys, heap, stack int64) {
	req, _ := http.NewRequestWithContext(ctx, "GET", b.parley.url+"/metrics", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, 0, 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		name, v, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			continue
		}
		switch name {
		case "go_memstats_sys_bytes":
			sys = int64(f) >> 10
		case "go_memstats_heap_inuse_bytes":
			heap = int64(f) >> 10
		case "go_memstats_stack_inuse_bytes":
			stack = int64(f) >> 10
		}
	}
	return sys, heap, stack
}

// idleMemory: the server's memory per connected, idle participant.
func (b *bench) idleMemory(ctx context.Context) ([]Row, error) {
	files := fileLimit()
	n, m := idleRounds(b.o.IdleSockets, files)
	settle()
	start := b.parley.rssKB("VmRSS")
	tokens := make([]string, n)
	urls := make([]string, n)
	if err := parallel(n, func(i int) error {
		out, err := b.cc.StartChatContact(ctx, startInput())
		if err == nil {
			tokens[i] = *out.ParticipantToken
			_, urls[i], err = b.connection(ctx, tokens[i], true)
		}
		return err
	}); err != nil {
		return nil, err
	}
	var sockets []*socket
	var smu sync.Mutex
	defer func() {
		for _, s := range sockets {
			s.conn.CloseNow()
		}
	}()
	// open dials one socket to each URL and reports the server's growth in
	// KB per socket.
	round := 0
	open := func(urls []string) (float64, error) {
		settle()
		before := b.parley.rssKB("VmRSS")
		sys0, heap0, stack0 := b.goMemKB(ctx)
		heapProfile(ctx, fmt.Sprint(round))
		round++
		err := parallel(len(urls), func(i int) error {
			s, err := dial(ctx, urls[i])
			if err != nil {
				return err
			}
			smu.Lock()
			sockets = append(sockets, s)
			smu.Unlock()
			return nil
		})
		if err != nil {
			return 0, err
		}
		settle()
		after := b.parley.rssKB("VmRSS")
		sys1, heap1, stack1 := b.goMemKB(ctx)
		heapProfile(ctx, fmt.Sprint(round))
		k := float64(len(urls))
		fmt.Fprintf(b.log, "  %d sockets: RSS %+.2f KB each; Go runtime %+.2f KB (heap in use %+.2f, stacks %+.2f)\n",
			len(urls), float64(after-before)/k, float64(sys1-sys0)/k, float64(heap1-heap0)/k, float64(stack1-stack0)/k)
		return float64(after-before) / float64(len(urls)), nil
	}
	per, err := open(urls)
	if err != nil {
		return nil, err
	}
	atN := b.parley.rssKB("VmRSS")
	// With chat creation and its garbage: what each participant added to
	// the server since the start, for the extrapolation.
	slope := float64(atN-start) / float64(n)

	rows := []Row{{Figure: fmt.Sprintf("memory per idle connected participant, %d connections", n),
		Parley: fmt.Sprintf("%.1f KB", per), Baseline: "—", Ratio: "—", Target: "≤ 10 KB", Met: per <= 10}}
	if m >= 1000 {
		// Fresh URLs (a URL must be opened within 100 s of its making),
		// made before the reading.
		second := make([]string, m)
		if err := parallel(m, func(i int) error {
			var err error
			_, second[i], err = b.connection(ctx, tokens[i], true)
			return err
		}); err != nil {
			return nil, err
		}
		ws, err := open(second)
		if err != nil {
			return nil, err
		}
		state := per - ws
		rows = append(rows,
			Row{Figure: fmt.Sprintf("of which the websocket (a second socket of %d of them)", m),
				Parley: fmt.Sprintf("%.1f KB", ws), Baseline: "—", Ratio: "—", Target: "≤ 8 KB", Met: ws <= 8},
			Row{Figure: "of which the chat state (the first socket's cost less the second's)",
				Parley: fmt.Sprintf("%.1f KB", state), Baseline: "—", Ratio: "—", Target: "≤ 2 KB", Met: state <= 2})
	}
	time.Sleep(b.o.Hold)
	const target = 100_000
	rss := float64(atN)
	how := fmt.Sprintf("measured; %.0f MB at start", float64(start)/1024)
	if n < target {
		rss += slope * float64(target-n)
		how = fmt.Sprintf("extrapolated from %d (%.0f MB, %.1f KB each since the start): the open-file limit is %d", n, float64(atN)/1024, slope, files)
	}
	rows = append(rows, Row{Figure: "server RSS with 100,000 idle connected participants",
		Parley: fmt.Sprintf("%.0f MB (%s)", rss/1024, how), Baseline: "—", Ratio: "—", Target: "≤ 1.2 GB", Met: rss <= 1.2*1024*1024})
	return rows, nil
}
