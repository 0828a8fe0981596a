package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/jackc/pgx/v5"
)

// The PostgreSQL and cluster figures (issues 12 and 13): Parley on one
// node, then on three nodes sharing one PostgreSQL and fanning out over
// NATS, each deployment on a fresh database of the same server, measured
// under the same loads as the SQLite figures.

// deployment is Parley nodes on one database: a bench per node.
type deployment struct {
	db    string
	nodes []*bench
	nats  bool // the nodes fan out over NATS
}

// deploy starts n nodes on a fresh database; with more than one they share
// NATS and a public URL, as behind a balancer (the bench talks to each
// node directly, so the URLs they hand out are pointed at the node).
func (b *bench) deploy(ctx context.Context, n int) (*deployment, error) {
	e := b.engines()
	db, err := e.database(ctx)
	if err != nil {
		return nil, err
	}
	d := &deployment{db: db, nats: n > 1}
	for i := range n {
		// PARLEY_PPROF is the SQLite server's; the first node of each
		// deployment serves pprof on PARLEY_PPROF_NODE, for profiles.
		pprof := ""
		if i == 0 {
			pprof = os.Getenv("PARLEY_PPROF_NODE")
		}
		env := []string{"PARLEY_ADDR=127.0.0.1:0", "PARLEY_ACCESS_KEY_ID=" + akid, "PARLEY_SECRET_ACCESS_KEY=" + secret,
			"PARLEY_INSTANCE_ID=" + inst, "PARLEY_DATABASE_URL=" + db, "PARLEY_NATS_URL=", "PARLEY_PUBLIC_URL=", "PARLEY_PPROF=" + pprof}
		if n > 1 {
			env = append(env, "PARLEY_NATS_URL="+e.natsURL, "PARLEY_PUBLIC_URL=http://parley-bench.invalid",
				fmt.Sprintf("PARLEY_NODE_ID=node%d", i+1))
		}
		p, err := start(b.parley.cmd.Path, []string{"serve"}, env)
		if err != nil {
			d.stop()
			return nil, err
		}
		d.nodes = append(d.nodes, &bench{o: b.o, parley: p, http: b.http,
			cc: connect.New(connect.Options{Region: "us-east-1", BaseEndpoint: aws.String(p.url),
				Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})})
	}
	return d, nil
}

func (d *deployment) stop() {
	for _, n := range d.nodes {
		n.parley.stop()
	}
}

// cpu is the CPU time the nodes, PostgreSQL and nats-server have used so
// far.
func (d *deployment) cpu(e *engines) cpuTimes {
	var t cpuTimes
	t.pg, t.nats = e.cpu()
	if !d.nats {
		t.nats = 0 // idle, and not this deployment's
	}
	for _, n := range d.nodes {
		t.nodes += treeCPU(n.parley.cmd.Process.Pid)
	}
	return t
}

type cpuTimes struct{ nodes, pg, nats time.Duration }

// sendRate is the SendMessage load of the throughput figure (the same
// senders over the same chats), each sender on node sender%len(nodes).
func (d *deployment) sendRate(ctx context.Context, e *engines) (sendResult, error) {
	const chats = 1024
	tokens := make([]string, chats)
	if err := parallel(chats, func(i int) error {
		c, err := d.nodes[i%len(d.nodes)].newChat(ctx, false)
		tokens[i] = "X-Amz-Bearer: " + c.customerToken
		return err
	}); err != nil {
		return sendResult{}, err
	}
	o := d.nodes[0].o
	syncs0 := walSyncs(ctx, d.db)
	commits0, commitsOK := d.commits(ctx)
	cpu0, t0 := d.cpu(e), time.Now()
	// Each sender stays on one node, its messages going round its chats.
	sent, failures := closedLoop(ctx, o.Senders, o.Duration, func(g int) string { return d.nodes[g%len(d.nodes)].parley.url },
		func(g, n int) (string, string) { return "/participant/message", tokens[(g+n*o.Senders)%chats] })
	wall := time.Since(t0).Seconds()
	cpu1 := d.cpu(e)
	r := sendResult{rate: float64(sent) / wall, failed: failures, nodes: (cpu1.nodes - cpu0.nodes).Seconds() / wall,
		pg: (cpu1.pg - cpu0.pg).Seconds() / wall, nats: (cpu1.nats - cpu0.nats).Seconds() / wall}
	if commits1, ok := d.commits(ctx); ok && commitsOK {
		r.perTx = commits1.sub(commits0).perBatch()
	}
	// PostgreSQL counts its statistics with up to a second's delay.
	time.Sleep(1500 * time.Millisecond)
	if n := walSyncs(ctx, d.db) - syncs0; syncs0 >= 0 && n > 0 {
		r.perSync = float64(sent) / float64(n)
	}
	return r, nil
}

// commits sums the nodes' commit counters; ok is false if one could not
// be read.
func (d *deployment) commits(ctx context.Context) (commitStats, bool) {
	var sum commitStats
	for _, n := range d.nodes {
		s, err := parleyCommits(ctx, n.http, n.parley.url)
		if err != nil {
			return commitStats{}, false
		}
		sum = sum.add(s)
	}
	return sum, true
}

// walSyncs is how many times PostgreSQL has flushed its WAL (-1 if it
// cannot tell): a durable commit costs one flush, unless several commits
// share it, so messages per flush is the commits' effective batch.
func walSyncs(ctx context.Context, db string) int64 {
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return -1
	}
	defer conn.Close(ctx)
	var n int64
	if conn.QueryRow(ctx, `SELECT wal_sync FROM pg_stat_wal`).Scan(&n) != nil {
		return -1
	}
	return n
}

// sendResult: messages answered 200 a second, the failures, and the CPUs
// the servers kept busy meanwhile.
type sendResult struct {
	rate            float64
	failed          int64
	nodes, pg, nats float64
	perSync         float64 // messages per WAL flush (0: unknown)
	perTx           float64 // items per transaction, over every node's (0: unknown)
}

func (r sendResult) cpus() float64 { return r.nodes + r.pg + r.nats }

// perCPU is messages per CPU-second of the servers.
func (r sendResult) perCPU() float64 { return r.rate / r.cpus() }

// busy says how many CPUs the servers kept busy, and which.
func (r sendResult) busy() string {
	s := fmt.Sprintf("%.2f CPUs: nodes %.2f, postgres %.2f", r.cpus(), r.nodes, r.pg)
	if r.nats > 0 {
		s += fmt.Sprintf(", nats %.2f", r.nats)
	}
	var batching []string
	if r.perTx > 0 {
		batching = append(batching, fmt.Sprintf("%.1f msgs a transaction", r.perTx))
	}
	if r.perSync > 0 {
		batching = append(batching, fmt.Sprintf("%.1f per WAL flush", r.perSync))
	}
	if len(batching) > 0 {
		s += "; " + strings.Join(batching, ", ")
	}
	return s
}

// deliveryLatency is the latency figure's load: one message every
// 1/LatencyRate s over LatencyChats chats, all sent to node 0, each
// chat's agent socket on recv[chat%len(recv)].
func (d *deployment) deliveryLatency(ctx context.Context, recv []*bench) (latencies, error) {
	send := d.nodes[0]
	o := send.o
	n := o.LatencyChats
	targets := make([]target, n)
	beats := newBeater(10 * time.Second)
	defer beats.stop()
	defer func() {
		for _, t := range targets {
			if t.ws != nil {
				t.ws.conn.CloseNow()
			}
		}
	}()
	if err := parallel(n, func(i int) error {
		c, err := send.newChat(ctx, true)
		if err != nil {
			return err
		}
		r := recv[i%len(recv)]
		_, ws, err := r.connection(ctx, c.agentParticipantToken, true)
		if err != nil {
			return err
		}
		sock, err := dial(ctx, onHost(ws, r.parley.url))
		if err == nil {
			beats.add(sock)
		}
		targets[i] = target{ws: sock, path: "/participant/message", header: []string{"X-Amz-Bearer: " + c.customerToken}, body: sendMessageBody}
		return err
	}); err != nil {
		return latencies{}, err
	}
	return send.measureLatency(ctx, nil, send.parley.url, targets, parseParleyItem)
}

func skipped(figure, why string) Row {
	return Row{Figure: figure, Parley: "skipped: " + why, Baseline: "—", Ratio: "—", Target: "—", Met: true}
}

// postgresThroughput: durable SendMessage/s on PostgreSQL against bare
// batched inserts into the same server (issue 12), then on three nodes
// against one (issue 13), also per CPU-second of the servers, since the
// nodes share this machine's cores.
func (b *bench) postgresThroughput(ctx context.Context) ([]Row, error) {
	e := b.engines()
	if e.noPG != "" {
		return []Row{skipped("SendMessage throughput on PostgreSQL, 1 and 3 nodes", e.noPG)}, nil
	}
	one, err := b.deploy(ctx, 1)
	if err != nil {
		return nil, err
	}
	r1, err := one.sendRate(ctx, e)
	one.stop()
	if err != nil {
		return nil, err
	}
	quiet()
	// PostgreSQL's CPU per message on each side says how much of the gap
	// is the node's and how much the statements' (private server only).
	base, basePG, err := pgBaseline(ctx, one.db, b.o.Duration, func() time.Duration { pg, _ := e.cpu(); return pg })
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL baseline: %w", err)
	}
	pgPer := func(perMsg time.Duration) string {
		if perMsg == 0 { // an external PostgreSQL: its CPU is not seen
			return ""
		}
		return fmt.Sprintf("; PostgreSQL %.0f µs CPU/msg", perMsg.Seconds()*1e6)
	}
	perMsg := func(cpus float64) time.Duration { // over the messages answered
		if r1.rate == 0 {
			return 0
		}
		return time.Duration(cpus / r1.rate * float64(time.Second))
	}
	rows := []Row{{Figure: fmt.Sprintf("durable SendMessage throughput on PostgreSQL, %d concurrent senders (msgs/s)", b.o.Senders),
		Parley: fmt.Sprintf("%.0f (%d failed; node %.0f µs CPU/msg%s)", r1.rate, r1.failed, perMsg(r1.nodes).Seconds()*1e6,
			pgPer(perMsg(r1.pg))),
		Baseline: fmt.Sprintf("%.0f (batched inserts + seq%s)", base, pgPer(basePG)),
		Ratio:    ratio(r1.rate, base), Target: "≥ 10,000 and ≥ 0.6×", Met: r1.rate >= 10000 && r1.rate >= 0.6*base && r1.failed == 0}}
	if e.noNATS != "" {
		return append(rows, skipped("SendMessage throughput, 3 nodes", e.noNATS)), nil
	}
	quiet()
	three, err := b.deploy(ctx, 3)
	if err != nil {
		return nil, err
	}
	r3, err := three.sendRate(ctx, e)
	three.stop()
	if err != nil {
		return nil, err
	}
	servers := "nodes + PostgreSQL; 3 nodes: + nats-server"
	if e.pg == nil {
		servers = "nodes (+ nats-server) only: PostgreSQL is external"
	}
	return append(rows,
		Row{Figure: "durable SendMessage throughput, 3 nodes on one PostgreSQL + NATS, senders round-robin (msgs/s)",
			Parley: fmt.Sprintf("%.0f (%d failed)", r3.rate, r3.failed), Baseline: fmt.Sprintf("%.0f (1 node)", r1.rate),
			Ratio: ratio(r3.rate, r1.rate), Target: "—", Met: true},
		Row{Figure: fmt.Sprintf("the same, per CPU-second of the servers (%s)", servers),
			Parley:   fmt.Sprintf("%.0f (%s)", r3.perCPU(), r3.busy()),
			Baseline: fmt.Sprintf("%.0f (1 node; %s)", r1.perCPU(), r1.busy()),
			Ratio:    ratio(r3.perCPU(), r1.perCPU()), Target: "does not fall (≥ 0.9×)", Met: r3.perCPU() >= 0.9*r1.perCPU() && r3.failed == 0}), nil
}

// postgresLatency: delivery latency on PostgreSQL with one node, then
// across nodes (sender on node 1, agents' sockets on nodes 2 and 3).
func (b *bench) postgresLatency(ctx context.Context) ([]Row, error) {
	e := b.engines()
	if e.noPG != "" {
		return []Row{skipped("delivery latency on PostgreSQL, 1 node and across 3", e.noPG)}, nil
	}
	one, err := b.deploy(ctx, 1)
	if err != nil {
		return nil, err
	}
	l1, err := one.deliveryLatency(ctx, one.nodes)
	one.stop()
	if err != nil {
		return nil, fmt.Errorf("1 node: %w", err)
	}
	load := fmt.Sprintf("%d msg/s over %d chats", b.o.LatencyRate, b.o.LatencyChats)
	rows := []Row{
		{Figure: "delivery latency p50 on PostgreSQL, " + load, Parley: millis(l1.p50), Baseline: "—", Ratio: "—", Target: "—", Met: true},
		{Figure: "delivery latency p99 on PostgreSQL, " + load, Parley: millis(l1.p99), Baseline: "—", Ratio: "—", Target: "—", Met: true},
		{Figure: "of which SendMessage answered, p99", Parley: millis(l1.answeredP99), Baseline: "—", Ratio: "—", Target: "—", Met: true},
	}
	if e.noNATS != "" {
		return append(rows, skipped("cross-node delivery latency, 3 nodes", e.noNATS)), nil
	}
	quiet()
	three, err := b.deploy(ctx, 3)
	if err != nil {
		return nil, err
	}
	l3, err := three.deliveryLatency(ctx, three.nodes[1:])
	three.stop()
	if err != nil {
		return nil, fmt.Errorf("3 nodes: %w", err)
	}
	return append(rows,
		Row{Figure: "cross-node delivery latency p50, 3 nodes (sent to node 1, sockets on nodes 2 and 3), " + load,
			Parley: millis(l3.p50), Baseline: millis(l1.p50) + " (1 node)", Ratio: ratio(float64(l3.p50), float64(l1.p50)), Target: "—", Met: true},
		Row{Figure: "cross-node delivery latency p99, the same", Parley: millis(l3.p99), Baseline: millis(l1.p99) + " (1 node)",
			Ratio: ratio(float64(l3.p99), float64(l1.p99)), Target: "≤ 2× 1 node", Met: l3.p99 <= 2*l1.p99},
		Row{Figure: "of which SendMessage answered, p99", Parley: millis(l3.answeredP99), Baseline: millis(l1.answeredP99) + " (1 node)",
			Ratio: ratio(float64(l3.answeredP99), float64(l1.answeredP99)), Target: "—", Met: true}), nil
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
