// Package bench is `parley bench`: a load generator that starts a Parley
// server and a baseline server, each as its own process with a fresh data
// dir, measures Parley's figures and their baselines in the same run, and
// prints figure, Parley, baseline, ratio and target.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// Options scale the run.
type Options struct {
	UploadMB     int           // size of the upload and download files
	Rounds       int           // uploads and downloads timed per figure
	Senders      int           // concurrent senders for throughput
	Duration     time.Duration // how long throughput and latency load runs
	LatencyChats int
	LatencyRate  int // messages a second offered
	IdleSockets  int
	ParleyBinary string // the parley executable; "" means this one
	// Only runs the steps whose names contain it ("" runs all); a
	// trailing "$" anchors it at the name's end.
	Only string
	// Hold keeps the idle connections open this long, for profiling.
	Hold time.Duration
	// DatabaseURL is the PostgreSQL database the PostgreSQL and cluster
	// figures write to; "" starts a private server (internal/pgserver).
	DatabaseURL string
}

// DefaultOptions are the figures of issue 7's table.
func DefaultOptions() Options {
	return Options{UploadMB: 20, Rounds: 10, Senders: 256, Duration: 10 * time.Second,
		LatencyChats: 1000, LatencyRate: 2000, IdleSockets: 10000}
}

// Row is one figure of the table.
type Row struct {
	Figure   string
	Parley   string
	Baseline string
	Ratio    string
	Target   string
	Met      bool
}

const (
	akid   = "BENCHKEY"
	secret = "bench-secret-key"
	inst   = "bench"
)

// process is a server the bench started.
type process struct {
	cmd *exec.Cmd
	url string
	dir string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func start(bin string, args []string, env []string) (*process, error) {
	dir, err := os.MkdirTemp("", "parley-bench")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), append(env, "PARLEY_DATA_DIR="+dir, "PARLEY_BENCH_DIR="+dir)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The server's log goes to /dev/null itself (a nil Stderr), not through
	// a pipe to this process: a pipe would stall the server's logging (and
	// every request, behind the log's lock) whenever the load generator,
	// which shares the CPUs, is slow to drain it.
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, dir: dir}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
		return p, nil
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s %v did not start", bin, args)
	}
}

func (p *process) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	os.RemoveAll(p.dir)
}

// rssKB reads the server's resident memory.
func (p *process) rssKB(field string) int64 { return StatusKB(p.cmd.Process.Pid, field) }

// StatusKB reads a field in kB (VmRSS, VmHWM) of /proc/PID/status; 0 if
// the process or the field is gone.
func StatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// Run measures every figure and writes the table to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	bin := o.ParleyBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return err
		}
	}
	pprofAddr := os.Getenv("PARLEY_PPROF")
	if pprofAddr == "" {
		pprofAddr = freeAddr() // the idle figure reads memory at rest through it (idle.go)
	}
	parley, err := start(bin, []string{"serve"}, []string{"PARLEY_ADDR=127.0.0.1:0", "PARLEY_PPROF=" + pprofAddr, "PARLEY_ACCESS_KEY_ID=" + akid,
		"PARLEY_SECRET_ACCESS_KEY=" + secret, "PARLEY_INSTANCE_ID=" + inst, "PARLEY_ATTACHMENT_MAX_BYTES=" + strconv.Itoa(100<<20),
		"PARLEY_DATABASE_URL=", "PARLEY_NATS_URL=", // SQLite: PostgreSQL's figures have their own servers (cluster.go)
		"PARLEY_MAX_CONNS=" + strconv.Itoa(fileLimit()-300)}) // the idle figure's sockets, up to the file limit
	if err != nil {
		return err
	}
	defer parley.stop()
	// The baselines are this binary's, whichever Parley is measured.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	baseline, err := start(self, []string{"bench", "baseline"}, nil)
	if err != nil {
		return err
	}
	defer baseline.stop()

	b := &bench{o: o, parley: parley, pprof: pprofAddr, baseline: baseline, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}},
		cc: connect.New(connect.Options{Region: "us-east-1", BaseEndpoint: aws.String(parley.url),
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})}
	defer b.stopEngines()
	b.log = out
	fmt.Fprintf(out, "Parley %s and baseline %s on %d CPUs, %s/%s\n\n", parley.url, baseline.url, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "CPU gauge at start: %v (SHA-256 of 64 MB)\n", Gauge().Round(time.Millisecond))
	defer func() { fmt.Fprintf(out, "CPU gauge at end: %v\n", Gauge().Round(time.Millisecond)) }()
	steps := []struct {
		name string
		run  func(context.Context) ([]Row, error)
	}{
		{"upload and download", b.transfers},
		{"memory during uploads", b.uploadMemory},
		{"concurrent uploads", b.concurrentUploads},
		{"SendMessage throughput", b.throughput},
		{"delivery latency", b.latency},
		{"idle connections", b.idleMemory},
		{"SendMessage throughput on PostgreSQL, 1 and 3 nodes", b.postgresThroughput},
		{"delivery latency on PostgreSQL, 1 node and across 3", b.postgresLatency},
	}
	var rows []Row
	for _, s := range steps {
		if !selected(s.name, o.Only) {
			continue
		}
		fmt.Fprintf(out, "measuring %s…\n", s.name)
		quiet() // what the step before left (a checkpoint of its writes) is done
		r, err := s.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rows = append(rows, r...)
	}
	fmt.Fprintln(out)
	WriteTable(out, rows)
	return nil
}

// selected reports whether -only picks the step name: it contains only, or
// ends with it when only ends with "$".
func selected(name, only string) bool {
	if o, anchored := strings.CutSuffix(only, "$"); anchored {
		return strings.HasSuffix(name, o)
	}
	return strings.Contains(name, only)
}

// WriteTable prints rows as a Markdown table.
func WriteTable(out io.Writer, rows []Row) {
	fmt.Fprintln(out, "| figure | Parley | baseline | ratio | target | met |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	for _, r := range rows {
		met := "yes"
		switch {
		case r.Target == "—":
			met = "—" // a figure shown for context
		case !r.Met:
			met = "**no**"
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s |\n", r.Figure, r.Parley, r.Baseline, r.Ratio, r.Target, met)
	}
}

type bench struct {
	o        Options
	parley   *process
	pprof    string // the Parley server's pprof address
	unrested bool   // the idle figure said its readings are not at rest
	baseline *process
	http     *http.Client
	cc       *connect.Client
	eng      *engines  // PostgreSQL and NATS, started by the first figure that needs them
	log      io.Writer // progress and detail beside the table
}

// chat is a customer's connection, and optionally an agent's.
type chat struct {
	contactID, customerToken, customerPID string
	agentParticipantToken                 string
}

// chatWithAgent starts a chat with an agent, and opens the agent's
// websocket on it.
func (b *bench) chatWithAgent(ctx context.Context) (chat, *socket, error) {
	c, err := b.newChat(ctx, true)
	if err != nil {
		return c, nil, err
	}
	_, url, err := b.connection(ctx, c.agentParticipantToken, true)
	if err != nil {
		return c, nil, err
	}
	ws, err := dial(ctx, url)
	return c, ws, err
}

func (b *bench) newChat(ctx context.Context, withAgent bool) (chat, error) {
	out, err := b.cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(inst), ContactFlowId: aws.String("bench"),
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("Customer")}})
	if err != nil {
		return chat{}, err
	}
	c := chat{contactID: *out.ContactId, customerPID: *out.ParticipantId}
	if c.customerToken, _, err = b.connection(ctx, *out.ParticipantToken, false); err != nil {
		return c, err
	}
	if withAgent {
		p, err := b.cc.CreateParticipant(ctx, &connect.CreateParticipantInput{InstanceId: aws.String(inst), ContactId: out.ContactId,
			ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleAgent}})
		if err != nil {
			return c, err
		}
		c.agentParticipantToken = *p.ParticipantCredentials.ParticipantToken
	}
	return c, nil
}

// call is one participant-API request.
func (b *bench) call(ctx context.Context, path, bearer string, in, out any) error {
	body, _ := json.Marshal(in)
	req, _ := http.NewRequestWithContext(ctx, "POST", b.parley.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Bearer", bearer)
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (b *bench) connection(ctx context.Context, participantToken string, websocket bool) (token, wsURL string, err error) {
	types := []string{"CONNECTION_CREDENTIALS"}
	if websocket {
		types = append(types, "WEBSOCKET")
	}
	var out struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	err = b.call(ctx, "/participant/connection", participantToken, map[string]any{"Type": types}, &out)
	return out.ConnectionCredentials.ConnectionToken, out.Websocket.Url, err
}

func ratio(parley, baseline float64) string {
	if baseline == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", parley/baseline)
}

// settle lets the server's memory come back to rest before a reading.
func settle() { time.Sleep(2 * time.Second) }

// quiet waits between figures, so that each is measured under its own load:
// the throughput figure leaves a write-ahead log of ~100 MB whose background
// checkpoint would otherwise land in the next figure (BENCHMARKS.md).
func quiet() { time.Sleep(8 * time.Second) }

func startInput() *connect.StartChatContactInput {
	return &connect.StartChatContactInput{InstanceId: aws.String(inst), ContactFlowId: aws.String("bench"),
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("Idle customer")}}
}

// parallel runs f(0..n-1) on 32 workers and returns the first error; after
// an error a worker takes no more.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// closedLoop is the throughput load: senders that each send a message as
// soon as the last was answered, until d has passed. Sender g talks to
// url(g); its nth message goes to the path and bearer header to(g, n)
// returns ("" for none). It counts the 200s and the rest.
func closedLoop(ctx context.Context, senders int, d time.Duration, url func(g int) string, to func(g, n int) (path, header string)) (sent, failed int64) {
	var ok, bad atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			p, _ := newPoster(url(g))
			defer p.close()
			prefix := []byte(`{"ContentType":"text/plain","Content":"load","ClientToken":"`)
			var body []byte
			for n := 0; time.Now().Before(deadline); n++ {
				path, header := to(g, n)
				body = append(append(append(append(append(body[:0], prefix...), strconv.Itoa(g)...), '-'), strconv.Itoa(n)...), `"}`...)
				var hs []string
				if header != "" {
					hs = []string{header}
				}
				if status, err := p.post(ctx, path, body, hs...); err == nil && status == 200 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return ok.Load(), bad.Load()
}
