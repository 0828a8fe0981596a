package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// socket is a subscribed participant websocket.
type socket struct{ conn *websocket.Conn }

func dial(ctx context.Context, url string) (*socket, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		return nil, err
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if bytes.Contains(b, []byte(`"aws/subscribe"`)) {
			return &socket{conn: c}, nil
		}
	}
}

// beater sends ChatJS's heartbeat every interval on each socket added,
// until stop, as ChatJS does every 10 s: Parley closes a socket that is
// silent for a minute, and a figure's sockets wait through the set-up of
// the others and the baselines' runs (with -duration 30s, all but a few
// had been closed before Parley's run).
type beater struct {
	mu      sync.Mutex
	sockets []*socket
	stop    func()
}

func newBeater(every time.Duration) *beater {
	b := &beater{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			b.mu.Lock()
			sockets := slices.Clone(b.sockets)
			b.mu.Unlock()
			for _, s := range sockets {
				s.conn.Write(ctx, websocket.MessageText, []byte(`{"topic":"aws/heartbeat"}`))
			}
		}
	}()
	b.stop = func() { cancel(); <-done }
	return b
}

func (b *beater) add(s *socket) {
	b.mu.Lock()
	b.sockets = append(b.sockets, s)
	b.mu.Unlock()
}

// item reads the next chat item.
func (s *socket) item(ctx context.Context) (map[string]any, error) {
	for {
		_, b, err := s.conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		var f struct{ Topic, Content string }
		if json.Unmarshal(b, &f) != nil || f.Topic != "aws/chat" {
			continue
		}
		var it map[string]any
		json.Unmarshal([]byte(f.Content), &it)
		return it, nil
	}
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / (1 << 20) / d.Seconds() }

// pattern is the bytes uploaded: text, so that it passes the content checks.
func pattern(size int) []byte {
	line := []byte("parley benchmark payload line, checked as text/plain\n")
	b := bytes.Repeat(line, size/len(line)+1)
	return b[:size]
}

// upload runs StartAttachmentUpload, the PUT and CompleteAttachmentUpload.
func (b *bench) upload(ctx context.Context, token, name string, data []byte) (string, error) {
	var start struct {
		AttachmentId   string
		UploadMetadata struct {
			Url              string
			HeadersToInclude map[string]string
		}
	}
	if err := b.call(ctx, "/participant/start-attachment-upload", token, map[string]any{"AttachmentName": name,
		"ContentType": "text/plain", "AttachmentSizeInBytes": len(data), "ClientToken": name}, &start); err != nil {
		return "", err
	}
	req, _ := http.NewRequestWithContext(ctx, "PUT", start.UploadMetadata.Url, bytes.NewReader(data))
	for k, v := range start.UploadMetadata.HeadersToInclude {
		req.Header.Set(k, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("PUT: %d", resp.StatusCode)
	}
	return start.AttachmentId, b.call(ctx, "/participant/complete-attachment-upload", token,
		map[string]any{"AttachmentIds": []string{start.AttachmentId}, "ClientToken": "c-" + name}, nil)
}

func (b *bench) put(ctx context.Context, url string, data []byte) error {
	req, _ := http.NewRequestWithContext(ctx, "PUT", url, bytes.NewReader(data))
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("PUT %s: %d", url, resp.StatusCode)
	}
	return nil
}

func (b *bench) get(ctx context.Context, url string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := b.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return n, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return n, err
}

const downloadPasses = 5

// transfers: a 20 MB attachment end to end (Start → PUT → Complete → the
// other participant receives APPROVED) against a bare PUT into a fsynced
// file; and its download (GetAttachment → GET) against ServeContent.
func (b *bench) transfers(ctx context.Context) ([]Row, error) {
	c, agent, err := b.chatWithAgent(ctx)
	if err != nil {
		return nil, err
	}
	defer agent.conn.CloseNow()
	data := pattern(b.o.UploadMB << 20)
	size := int64(len(data))

	var up, base time.Duration
	var ids []string
	for i := range b.o.Rounds {
		t0 := time.Now()
		id, err := b.upload(ctx, c.customerToken, fmt.Sprintf("export-%d.txt", i), data)
		if err != nil {
			return nil, err
		}
		for approved := false; !approved; {
			it, err := agent.item(ctx)
			if err != nil {
				return nil, err
			}
			if atts, _ := it["Attachments"].([]any); len(atts) > 0 {
				a := atts[0].(map[string]any)
				approved = a["AttachmentId"] == id && a["Status"] == "APPROVED"
				if a["AttachmentId"] == id && a["Status"] == "REJECTED" {
					return nil, fmt.Errorf("upload %d was rejected", i)
				}
			}
		}
		up += time.Since(t0)
		ids = append(ids, id)

		t0 = time.Now()
		if err := b.put(ctx, fmt.Sprintf("%s/upload/f%d", b.baseline.url, i), data); err != nil {
			return nil, err
		}
		base += time.Since(t0)
	}

	// A download takes ~16 ms here, so one hiccup moves ten of them by 5%:
	// each file is downloaded downloadPasses times.
	var down, baseDown time.Duration
	for k := range downloadPasses * len(ids) {
		i, id := k%len(ids), ids[k%len(ids)]
		t0 := time.Now()
		var att struct{ Url string }
		if err := b.call(ctx, "/participant/attachment", c.customerToken, map[string]any{"AttachmentId": id}, &att); err != nil {
			return nil, err
		}
		if n, err := b.get(ctx, att.Url); err != nil || n != size {
			return nil, fmt.Errorf("download %d: %d bytes, %v", i, n, err)
		}
		down += time.Since(t0)
		t0 = time.Now()
		if n, err := b.get(ctx, fmt.Sprintf("%s/download/f%d", b.baseline.url, i)); err != nil || n != size {
			return nil, fmt.Errorf("baseline download %d: %d bytes, %v", i, n, err)
		}
		baseDown += time.Since(t0)
	}
	total := size * int64(b.o.Rounds)
	pu, bu := mbps(total, up), mbps(total, base)
	pd, bd := mbps(total*downloadPasses, down), mbps(total*downloadPasses, baseDown)
	return []Row{
		{Figure: fmt.Sprintf("attachment upload, %d MB, end to end (MB/s)", b.o.UploadMB), Parley: fmt.Sprintf("%.0f", pu),
			Baseline: fmt.Sprintf("%.0f (bare PUT, fsync)", bu), Ratio: ratio(pu, bu), Target: "≥ 0.8× baseline", Met: pu >= 0.8*bu},
		{Figure: "attachment download (MB/s)", Parley: fmt.Sprintf("%.0f", pd),
			Baseline: fmt.Sprintf("%.0f (ServeContent)", bd), Ratio: ratio(pd, bd), Target: "≥ 0.9× baseline", Met: pd >= 0.9*bd},
	}, nil
}

// uploadMemory: the server's resident memory during 20 concurrent uploads,
// above what it holds at rest.
func (b *bench) uploadMemory(ctx context.Context) ([]Row, error) {
	c, err := b.newChat(ctx, false)
	if err != nil {
		return nil, err
	}
	data := pattern(b.o.UploadMB << 20)
	settle()
	idle := b.parley.rssKB("VmRSS")
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if r := b.parley.rssKB("VmRSS"); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.upload(ctx, c.customerToken, fmt.Sprintf("parallel-%d.txt", i), data); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	growth := float64(peak.Load()-idle) / 1024
	return []Row{{Figure: fmt.Sprintf("server memory during 20 concurrent %d MB uploads, above idle", b.o.UploadMB),
		Parley: fmt.Sprintf("%.1f MB (idle %d MB)", growth, idle>>10), Baseline: "—", Ratio: "—", Target: "≤ 64 MB", Met: growth <= 64}}, nil
}

// throughput: durable SendMessage calls a second from many concurrent
// senders over many chats; every 200 is committed with fsync.
func (b *bench) throughput(ctx context.Context) ([]Row, error) {
	// Many chats, each at a participant's pace: at 20,000 msgs/s each chat
	// gets ~200 in the 10 s, within the default per-participant limit (a
	// burst of 300, then 10 a second), which real senders never reach.
	const chats = 1024
	tokens := make([]string, chats)
	if err := parallel(chats, func(i int) error {
		c, err := b.newChat(ctx, false)
		tokens[i] = "X-Amz-Bearer: " + c.customerToken
		return err
	}); err != nil {
		return nil, err
	}
	var baseRate, baseCPU float64
	var baseFailed int64
	if b.o.DatabaseURL == "" {
		baseRate, baseFailed, baseCPU = b.durableSendRate(ctx, chats)
	}
	cpu := startCPU(b.parley.cmd.Process.Pid)
	sent, failed := closedLoop(ctx, b.o.Senders, b.o.Duration, func(int) string { return b.parley.url },
		func(g, n int) (string, string) { return "/participant/message", tokens[(g+n*b.o.Senders)%chats] })
	cores := cpu.coresOver(b.o.Duration) // per message: its CPU over the messages sent
	rate := float64(sent) / b.o.Duration.Seconds()
	return []Row{{Figure: fmt.Sprintf("durable SendMessage throughput, %d concurrent senders (msgs/s)", b.o.Senders),
		Parley: fmt.Sprintf("%.0f (%d failed)", rate, failed), Baseline: fmt.Sprintf("%.0f (%d failed; durable append, group commit)", baseRate, baseFailed),
		Ratio: ratio(rate, baseRate), Target: "≥ 15,000 and ≥ 0.7×", Met: rate >= 15000 && rate >= 0.7*baseRate && failed == 0},
		cpuPerMessageRow(cores, rate, baseCPU, baseRate)}, nil
}

// latencies are the percentiles of one latency run.
type latencies struct {
	p50, p99, answeredP50, answeredP99 time.Duration
	cores                              float64 // the server's CPU over the run
}

// latency: SendMessage → the other participant's websocket, at a fixed
// offered load spread over many chats, against a bare relay.
func (b *bench) latency(ctx context.Context) ([]Row, error) {
	n := b.o.LatencyChats
	parleyTargets := make([]target, n)
	baseTargets := make([]target, n)
	beats := newBeater(10 * time.Second)
	defer beats.stop()
	for i := range n {
		c, ws, err := b.chatWithAgent(ctx)
		if err != nil {
			return nil, err
		}
		beats.add(ws)
		parleyTargets[i] = target{ws: ws, path: "/participant/message", header: []string{"X-Amz-Bearer: " + c.customerToken},
			body: sendMessageBody}
		bws, err := dialRaw(ctx, fmt.Sprintf("ws%s/relay/c%d/ws", strings.TrimPrefix(b.baseline.url, "http"), i))
		if err != nil {
			return nil, err
		}
		baseTargets[i] = target{ws: bws, path: fmt.Sprintf("/relay/c%d", i),
			body: func(seq int) []byte { return fmt.Appendf(nil, `{"Content":"%d"}`, seq) }}
	}
	defer func() {
		for i := range n {
			parleyTargets[i].ws.conn.CloseNow()
			baseTargets[i].ws.conn.CloseNow()
		}
	}()
	parseBase := func(raw []byte) (int, bool) {
		var m struct{ Content string }
		if json.Unmarshal(raw, &m) != nil {
			return 0, false
		}
		n, err := strconv.Atoi(m.Content)
		return n, err == nil
	}
	base, err := b.measureLatency(ctx, b.baseline, b.baseline.url, baseTargets, parseBase)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	// The relay's sockets closed with its run (a cancelled read closes a
	// coder/websocket connection): the durable relay's chats have their own.
	durTargets := slices.Clone(baseTargets)
	for i := range durTargets {
		ws, err := dialRaw(ctx, fmt.Sprintf("ws%s/relay/d%d/ws", strings.TrimPrefix(b.baseline.url, "http"), i))
		if err != nil {
			return nil, err
		}
		durTargets[i].path, durTargets[i].ws = fmt.Sprintf("/durable/d%d", i), ws
	}
	defer func() {
		for _, t := range durTargets {
			t.ws.conn.CloseNow()
		}
	}()
	// Each side's committer is read around its run: how many messages a
	// commit carried and how busy it was say where the tail comes from.
	var dur, par latencies
	durCommits, durOK, err := commitsOver(func() (commitStats, error) { return relayCommits(ctx, b.http, b.baseline.url) },
		func() (err error) {
			dur, err = b.measureLatency(ctx, b.baseline, b.baseline.url, durTargets, parseBase)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("durable relay: %w", err)
	}
	parCommits, parOK, err := commitsOver(func() (commitStats, error) { return parleyCommits(ctx, b.http, b.parley.url) },
		func() (err error) {
			par, err = b.measureLatency(ctx, b.parley, b.parley.url, parleyTargets, parseParleyItem)
			return err
		})
	if err != nil {
		return nil, err
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	load := fmt.Sprintf("%d msg/s over %d chats", b.o.LatencyRate, n)
	return append([]Row{
		{Figure: "delivery latency p50, " + load, Parley: ms(par.p50), Baseline: ms(base.p50) + " (bare relay)",
			Ratio: ratio(float64(par.p50), float64(base.p50)), Target: "—", Met: true},
		{Figure: "delivery latency p99, " + load, Parley: ms(par.p99), Baseline: ms(base.p99) + " (bare relay)",
			Ratio: ratio(float64(par.p99), float64(base.p99)), Target: "≤ 2× baseline", Met: par.p99 <= 2*base.p99},
		// Where the time goes: the durable SendMessage's own answer, against
		// the relay's answer to the same POST.
		{Figure: "of which SendMessage answered, p50", Parley: ms(par.answeredP50), Baseline: ms(base.answeredP50) + " (relay POST)",
			Ratio: ratio(float64(par.answeredP50), float64(base.answeredP50)), Target: "—", Met: true},
		{Figure: "of which SendMessage answered, p99", Parley: ms(par.answeredP99), Baseline: ms(base.answeredP99) + " (relay POST)",
			Ratio: ratio(float64(par.answeredP99), float64(base.answeredP99)), Target: "—", Met: true},
	}, append(durableLatencyRows(load, par, base, dur), commitRow(b.o.Duration, parCommits, parOK, durCommits, durOK))...), nil
}

// commitRow compares how the two group committers batched under the
// latency load, over its duration d.
func commitRow(d time.Duration, par commitStats, parOK bool, dur commitStats, durOK bool) Row {
	r := Row{Figure: "of which the group commit: messages a commit, and how busy the committer was", Parley: "—",
		Baseline: "— (durable relay)", Ratio: "—", Target: "—", Met: true}
	if parOK {
		r.Parley = par.describe(d)
	}
	if durOK {
		r.Baseline = dur.describe(d) + " (durable relay)"
	}
	if parOK && durOK && dur.Seconds > 0 {
		r.Ratio = ratio(par.Seconds, dur.Seconds) + " busy"
	}
	return r
}

func dialRaw(ctx context.Context, url string) (*socket, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	return &socket{conn: c}, nil
}

// target is where one chat's messages go in a latency run, and the socket
// they arrive on.
type target struct {
	path   string
	header []string
	body   func(seq int) []byte
	ws     *socket
}

// sendMessageBody is a SendMessage whose content is seq.
func sendMessageBody(seq int) []byte {
	return fmt.Appendf(nil, `{"ContentType":"text/plain","Content":"%d","ClientToken":"l%d"}`, seq, seq)
}

// parseParleyItem is the seq a Parley socket's MESSAGE item carries.
func parseParleyItem(raw []byte) (int, bool) {
	var f struct{ Topic, Content string }
	if json.Unmarshal(raw, &f) != nil || f.Topic != "aws/chat" {
		return 0, false
	}
	var it struct{ Type, Content string }
	json.Unmarshal([]byte(f.Content), &it)
	if it.Type != "MESSAGE" {
		return 0, false
	}
	n, err := strconv.Atoi(it.Content)
	return n, err == nil
}

// measureLatency offers LatencyRate messages a second for Duration to
// baseURL, spread over targets, and times each from its send to its
// arrival on its target's socket; with server, also that process's CPU.
func (b *bench) measureLatency(ctx context.Context, server *process, baseURL string, targets []target, parse func([]byte) (int, bool)) (latencies, error) {
	total := int(float64(b.o.LatencyRate) * b.o.Duration.Seconds())
	sentAt := make([]time.Time, total)
	answered := make([]time.Duration, total) // request to response
	got := make([]time.Duration, total)
	var received atomic.Int64
	done := make(chan struct{})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, t := range targets {
		go func() {
			for {
				_, raw, err := t.ws.conn.Read(rctx)
				if err != nil {
					return
				}
				if seq, ok := parse(raw); ok && seq < total {
					got[seq] = time.Since(sentAt[seq])
					if received.Add(1) == int64(total) {
						close(done)
					}
				}
			}
		}()
	}
	// A fixed offered load: one message every interval, whatever the
	// server's speed, handed to a pool of senders.
	jobs := make(chan int, total)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, _ := newPoster(baseURL)
			defer p.close()
			for seq := range jobs {
				t := targets[seq%len(targets)]
				t0 := time.Now()
				status, err := p.post(ctx, t.path, t.body(seq), t.header...)
				answered[seq] = time.Since(t0)
				if err != nil || status != 200 {
					failed.Store(true)
					cancel()
					return
				}
			}
		}()
	}
	interval := time.Second / time.Duration(b.o.LatencyRate)
	var cpu cpuWindow
	if server != nil {
		cpu = startCPU(server.cmd.Process.Pid)
	}
	start := time.Now()
	for seq := range total {
		time.Sleep(time.Until(start.Add(time.Duration(seq) * interval)))
		sentAt[seq] = time.Now()
		jobs <- seq
	}
	close(jobs)
	wg.Wait()
	if failed.Load() {
		return latencies{}, errors.New("a message was refused")
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return latencies{}, fmt.Errorf("only %d of %d messages arrived", received.Load(), total)
	}
	var cores float64
	if server != nil {
		cores = cpu.coresOver(b.o.Duration)
	}
	slices.Sort(got)
	slices.Sort(answered)
	return latencies{got[total/2], got[total*99/100], answered[total/2], answered[total*99/100], cores}, nil
}
