package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which is 100 on every Linux Go runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU (user + system) the process has used so far; 0 if it
// is gone.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it don't.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s) // f[0] is field 3 (state): utime is field 14
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * clockTick
}

// cpuWindow measures one process's CPU from a start.
type cpuWindow struct {
	pid int
	cpu time.Duration
}

func startCPU(pid int) cpuWindow { return cpuWindow{pid, cpuTime(pid)} }

// coresOver is the CPU used since the start, in cores over d: the load's
// nominal length. A server that falls behind stretches the window to its
// last delivery; its work is the same, and is what this compares.
func (w cpuWindow) coresOver(d time.Duration) float64 {
	return (cpuTime(w.pid) - w.cpu).Seconds() / d.Seconds()
}

// Gauge times a fixed CPU-bound loop (SHA-256 of 64 MB, on one goroutine),
// so that a run shows how fast the shared machine was at its start and
// end: BENCHMARKS.md compares figures of runs whose gauges agree.
func Gauge() time.Duration {
	buf := make([]byte, 1<<20)
	t0 := time.Now()
	for range 64 {
		sha256.Sum256(buf)
	}
	return time.Since(t0)
}

// durableSendRate is the durable send baseline: the throughput figure's
// closed loop (the same senders, each going round its own chats of the
// same number) against the durable relay's group-committed append, with no
// websockets listening.
func (b *bench) durableSendRate(ctx context.Context, chats int) (rate float64, failed int64, cores float64) {
	cpu := startCPU(b.baseline.cmd.Process.Pid)
	sent, failed := closedLoop(ctx, b.o.Senders, b.o.Duration, func(int) string { return b.baseline.url },
		func(g, n int) (string, string) { return "/durable/t" + strconv.Itoa((g+n*b.o.Senders)%chats), "" })
	return float64(sent) / b.o.Duration.Seconds(), failed, cpu.coresOver(b.o.Duration)
}

// cpuPerMessageRow is the server's CPU per message under the throughput
// load. Unlike the rate, it hardly depends on the share of the CPUs the
// server got, so it compares runs on a shared machine.
func cpuPerMessageRow(cores, rate, baseCores, baseRate float64) Row {
	us := func(c, r float64) float64 {
		if r == 0 {
			return 0
		}
		return c / r * 1e6
	}
	p, base := us(cores, rate), us(baseCores, baseRate)
	return Row{Figure: "of which server CPU per SendMessage", Parley: fmt.Sprintf("%.0f µs (%.2f cores)", p, cores),
		Baseline: fmt.Sprintf("%.0f µs (%.2f cores; durable append)", base, baseCores), Ratio: ratio(p, base), Target: "—", Met: true}
}

// durableLatencyRows are the rows of issue 17 for the latency load: Parley
// against the durable relay, and the servers' CPU against the bare relay's.
func durableLatencyRows(load string, par, bare, dur latencies) []Row {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	cores := func(c float64) string { return fmt.Sprintf("%.2f cores", c) }
	return []Row{
		{Figure: "delivery latency p50 against the durable relay, " + load, Parley: ms(par.p50), Baseline: ms(dur.p50) + " (durable relay)",
			Ratio: ratio(float64(par.p50), float64(dur.p50)), Target: "—", Met: true},
		{Figure: "delivery latency p99 against the durable relay, " + load, Parley: ms(par.p99), Baseline: ms(dur.p99) + " (durable relay)",
			Ratio: ratio(float64(par.p99), float64(dur.p99)), Target: "≤ 1.5× durable relay", Met: float64(par.p99) <= 1.5*float64(dur.p99)},
		{Figure: "server CPU, " + load, Parley: cores(par.cores), Baseline: cores(bare.cores) + " (bare relay)",
			Ratio: ratio(par.cores, bare.cores), Target: "≤ 2× bare relay", Met: par.cores <= 2*bare.cores},
		{Figure: "of which the durable relay's CPU", Parley: cores(par.cores), Baseline: cores(dur.cores) + " (durable relay)",
			Ratio: ratio(par.cores, dur.cores), Target: "—", Met: true},
	}
}
