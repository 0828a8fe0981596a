package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// The idle figure: what a connected, silent participant costs the server,
// split into its websocket and its chat state, and the server's RSS with
// 100,000 of them (issue 17).
//
// The split: w+n chats start, then w participants connect one socket each
// and are not measured (the warm-up): their sockets fill the server's
// bounded caches (the page cache of each of SQLite's reading connections,
// which every first socket's reads of its chat fill while nothing is
// written, and any commit empties), which would otherwise count as what
// each participant costs. Then the n others connect one socket each, and
// half of them a second socket.
// A second socket of a participant whose chat the node follows already
// costs only the websocket; the first socket's cost less the second's is
// the chat state (the hub's feed and broker subscription, the
// participant's presence).
//
// Each reading is taken at rest: the server collects and returns its free
// memory to the system first (its pprof endpoint), so that a round is not
// charged for the room another round's garbage made or used (Go's heap
// grows to twice its live data before a collection, and a round of second
// sockets right after the first sockets found the room their garbage had
// made). That room is then added back explicitly: a participant's figure
// is its RSS at rest plus its share of the live Go heap and stacks once
// more, the room the heap takes before each collection with GOGC=100.

// idleWarm is how many participants the warm-up connects: enough to fill
// eight reading connections' page caches of 512 KiB each.
const idleWarm = 2000

// idleRounds is how many sockets the rounds open, w for the warm-up, n
// first sockets (from Options.IdleSockets) and m second ones, within the
// open-file limit that both the server and this process live under.
func idleRounds(n int, files int) (warm, first, second int) {
	budget := files - 500 // the server's database and HTTP connections, ours
	warm = min(idleWarm, budget/10)
	first = min(n, budget-warm)
	second = max(0, min(first/2, budget-warm-first))
	return warm, first, second
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
// attribute a round's growth: a chat state and a websocket, by function
// (idle-heap-0 and 1 around the warm-up, 2 and 3 around the first
// sockets, 4 and 5 around the second ones).
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
// metrics: what Go has from the system, and of it the heap spans in use,
// the heap's objects (live, right after a collection) and the stacks. The
// rest of the RSS is the SQLite library's own allocations (page caches)
// and the binary.
func (b *bench) goMemKB(ctx context.Context) (m memAt) {
	v, err := scrapeMetrics(ctx, b.http, b.parley.url)
	if err != nil {
		return m
	}
	kb := func(name string) int64 { return int64(v[name]) >> 10 }
	return memAt{sys: kb("go_memstats_sys_bytes"), heap: kb("go_memstats_heap_inuse_bytes"),
		live: kb("go_memstats_heap_alloc_bytes"), stack: kb("go_memstats_stack_inuse_bytes")}
}

// memAt is the server's memory at a reading, in KB.
type memAt struct{ rss, sys, heap, live, stack int64 }

// rest lets the server's memory come to rest and reads it: the server
// collects and returns its free memory to the system first, when its pprof
// address answers (a build without that endpoint is read as it is).
func (b *bench) rest(ctx context.Context) memAt {
	settle()
	rested := false
	if b.pprof != "" {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+b.pprof+"/debug/free-os-memory", nil)
		if resp, err := b.http.Do(req); err == nil {
			resp.Body.Close()
			rested = resp.StatusCode == http.StatusNoContent
		}
	}
	if !rested && !b.unrested {
		b.unrested = true
		fmt.Fprintln(b.log, "  (the server does not answer POST /debug/free-os-memory on its pprof address: its memory is read as it is, not at rest)")
	}
	rss := b.parley.rssKB("VmRSS")
	m := b.goMemKB(ctx)
	m.rss = rss
	return m
}

// peak is a reading's RSS with the collector's room added: with GOGC=100
// the heap grows by its live data and the stacks before the next
// collection.
func (m memAt) peak() int64 { return m.rss + m.live + m.stack }

// idleMemory: the server's memory per connected, idle participant.
func (b *bench) idleMemory(ctx context.Context) ([]Row, error) {
	files := fileLimit()
	w, n, m := idleRounds(b.o.IdleSockets, files)
	start := b.rest(ctx)
	// chats starts k chats and makes each participant's websocket URL
	// (to be opened within 100 s).
	chats := func(k int) (tokens, urls []string, err error) {
		tokens, urls = make([]string, k), make([]string, k)
		err = parallel(k, func(i int) error {
			out, err := b.cc.StartChatContact(ctx, startInput())
			if err == nil {
				tokens[i] = *out.ParticipantToken
				_, urls[i], err = b.connection(ctx, tokens[i], true)
			}
			return err
		})
		return tokens, urls, err
	}
	var sockets []*socket
	var smu sync.Mutex
	defer func() {
		for _, s := range sockets {
			s.conn.CloseNow()
		}
	}()
	// open dials one socket to each URL, reports the server's growth and
	// returns the growth in KB per socket, at rest and at the collector's
	// peak, and the reading after it.
	round := 0
	open := func(what string, urls []string) (rest, peak float64, after memAt, err error) {
		before := b.rest(ctx)
		heapProfile(ctx, fmt.Sprint(2*round))
		err = parallel(len(urls), func(i int) error {
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
			return 0, 0, after, err
		}
		after = b.rest(ctx)
		heapProfile(ctx, fmt.Sprint(2*round+1))
		round++
		k := float64(len(urls))
		rest, peak = float64(after.rss-before.rss)/k, float64(after.peak()-before.peak())/k
		fmt.Fprintf(b.log, "  %d %s: RSS at rest %+.2f KB each, with the collector's room %+.2f; Go runtime %+.2f KB (heap in use %+.2f, live %+.2f, stacks %+.2f)\n",
			len(urls), what, rest, peak, float64(after.sys-before.sys)/k, float64(after.heap-before.heap)/k, float64(after.live-before.live)/k,
			float64(after.stack-before.stack)/k)
		return rest, peak, after, nil
	}

	// Every chat is started first: a commit empties the reading
	// connections' caches that the warm-up fills.
	tokens, urls, err := chats(w + n)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := open("sockets of the warm-up (not counted per participant)", urls[:w]); err != nil {
		return nil, err
	}
	tokens, urls = tokens[w:], urls[w:]
	rest, per, atN, err := open("first sockets", urls)
	if err != nil {
		return nil, err
	}
	rows := []Row{{Figure: fmt.Sprintf("memory per idle connected participant, %d connections after %d (at rest: %.1f KB)", n, w, rest),
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
		wsRest, ws, _, err := open("second sockets", second)
		if err != nil {
			return nil, err
		}
		state := per - ws
		rows = append(rows,
			Row{Figure: fmt.Sprintf("of which the websocket (a second socket of %d of them; at rest: %.1f KB)", m, wsRest),
				Parley: fmt.Sprintf("%.1f KB", ws), Baseline: "—", Ratio: "—", Target: "≤ 8 KB", Met: ws <= 8},
			Row{Figure: fmt.Sprintf("of which the chat state (the first socket's cost less the second's; at rest: %.1f KB)", rest-wsRest),
				Parley: fmt.Sprintf("%.1f KB", state), Baseline: "—", Ratio: "—", Target: "≤ 2 KB", Met: state <= 2})
	}
	time.Sleep(b.o.Hold)
	// The RSS with 100,000: at the collector's peak with w+n of them,
	// plus, for each participant still to come, what each added to that
	// since the start (chat creation and the warm-up's caches included).
	const target = 100_000
	slope := float64(atN.peak()-start.peak()) / float64(w+n)
	rss := float64(atN.peak())
	how := fmt.Sprintf("measured; %.0f MB at start", float64(start.peak())/1024)
	if w+n < target {
		rss += slope * float64(target-w-n)
		how = fmt.Sprintf("extrapolated from %d (%.0f MB with the collector's room, %.1f KB each since the start): the open-file limit is %d",
			w+n, float64(atN.peak())/1024, slope, files)
	}
	rows = append(rows, Row{Figure: "server RSS with 100,000 idle connected participants",
		Parley: fmt.Sprintf("%.0f MB (%s)", rss/1024, how), Baseline: "—", Ratio: "—", Target: "≤ 1.2 GB", Met: rss <= 1.2*1024*1024})
	return rows, nil
}

// freeAddr is a free port on the loopback interface.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer ln.Close()
	return ln.Addr().String()
}
