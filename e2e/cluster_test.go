package e2e

// The cluster suite: three Parley nodes on one PostgreSQL database, fanning
// out over NATS, behind a round-robin reverse proxy that passes websocket
// upgrades, as any load balancer without sticky sessions would.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/testfiles"
)

// balancer is a round-robin reverse proxy on 127.0.0.1. It keeps the
// client's Host header (SigV4 signs it) and passes websocket upgrades.
type balancer struct {
	URL      string
	mu       sync.Mutex
	backends []*url.URL
	n        atomic.Int64
	srv      *http.Server
}

func startBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{URL: "http://" + ln.Addr().String()}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
			r.Out.Host = r.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { w.WriteHeader(http.StatusBadGateway) },
		// A connection per request. Under load, a request whose client
		// closed on the JSON's end was cancelled just as its node
		// connection went back to the pool, and that connection was then
		// closed under the next request, which lost its answer midway
		// (seen in TestClusterKillNode: the first request's context
		// cancelled, the second's not, its read on a connection closed in
		// this process). A fault of this proxy's pooling, not of a node.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		if len(b.backends) == 0 {
			b.mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		target := b.backends[int(b.n.Add(1))%len(b.backends)]
		b.mu.Unlock()
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, target)))
	})}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

type backendKey struct{}

// set replaces the backends.
func (b *balancer) set(urls ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = nil
	for _, u := range urls {
		p, _ := url.Parse(u)
		b.backends = append(b.backends, p)
	}
}

// cluster is three nodes behind a balancer.
type cluster struct {
	lb    *balancer
	db    string
	nats  *testfiles.NATSServer
	lossy *testfiles.NATSLossyProxy // every node reaches NATS through it
	nodes []*testServer
	ts    *testServer // the cluster as clients see it: the balancer
}

// startCluster starts n in-process nodes sharing a fresh database and an
// embedded NATS server.
func startCluster(t *testing.T, n int, env ...string) *cluster {
	t.Helper()
	c := &cluster{lb: startBalancer(t), db: pgtest.NewDatabase(t), nats: testfiles.NATS(t)}
	c.lossy = testfiles.NATSLossy(t, c.nats.URL, 0)
	var urls []string
	for i := range n {
		e := append([]string{"PARLEY_DATABASE_URL", c.db, "PARLEY_NATS_URL", c.lossy.URL, "PARLEY_PUBLIC_URL", c.lb.URL,
			"PARLEY_NODE_ID", fmt.Sprint("node", i+1)}, env...)
		node := startServerIn(t, t.TempDir(), e...)
		node.URL = node.srv.Addr() // its own address, not the balancer's
		c.nodes = append(c.nodes, node)
		urls = append(urls, node.URL)
	}
	c.lb.set(urls...)
	c.ts = &testServer{URL: c.lb.URL, InstanceID: c.nodes[0].InstanceID}
	return c
}

// on returns URL with its host replaced by node i's: the request goes to
// that node, whatever the balancer would choose.
func (c *cluster) on(i int, rawURL string) string {
	u, _ := url.Parse(rawURL)
	node, _ := url.Parse(c.nodes[i].URL)
	u.Host = node.Host
	return u.String()
}

// node returns a testServer for node i alone.
func (c *cluster) node(i int) *testServer {
	return &testServer{URL: c.nodes[i].URL, InstanceID: c.ts.InstanceID}
}

// collector reads a socket in the background and keeps what it gets.
type collector struct {
	name   string
	conn   *websocket.Conn
	mu     sync.Mutex
	ids    []string // MESSAGE and ATTACHMENT items, in arrival order
	items  []map[string]any
	ended  int
	closed chan struct{}
	status websocket.StatusCode
	at     time.Time // when it closed
}

// dialOn opens a websocket for a participant on node i and subscribes it.
func (c *cluster) dialOn(t *testing.T, i int, name, participantToken string) *collector {
	t.Helper()
	out, err := c.ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(participantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
	if err != nil {
		t.Fatal(err)
	}
	return dialCollector(t, name, c.on(i, *out.Websocket.Url))
}

func dialCollector(t *testing.T, name, wsURL string) *collector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	ws := &wsClient{conn: conn}
	ws.send(t, `{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)
	if f := ws.next(t); f.Topic != "aws/subscribe" {
		t.Fatalf("%s: subscribe reply %+v", name, f)
	}
	col := &collector{name: name, conn: conn, closed: make(chan struct{})}
	go func() {
		defer close(col.closed)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				col.mu.Lock()
				col.status, col.at = websocket.CloseStatus(err), time.Now()
				col.mu.Unlock()
				return
			}
			var f wsFrame
			var s string
			if json.Unmarshal(b, &f) != nil || f.Topic != "aws/chat" || json.Unmarshal(f.Content, &s) != nil {
				continue
			}
			var it map[string]any
			json.Unmarshal([]byte(s), &it)
			col.mu.Lock()
			col.items = append(col.items, it)
			switch {
			case it["Type"] == "MESSAGE" || it["Type"] == "ATTACHMENT":
				col.ids = append(col.ids, it["Id"].(string))
			case it["ContentType"] == "application/vnd.amazonaws.connect.event.chat.ended":
				col.ended++
			}
			col.mu.Unlock()
		}
	}()
	return col
}

func (col *collector) messages() []string {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]string(nil), col.ids...)
}

// waitMessages waits until the socket has n messages.
func (col *collector) waitMessages(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := col.messages()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages of %d within %s", col.name, len(got), n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transcriptIDs pages through a chat's transcript, oldest first, and
// returns its MESSAGE and ATTACHMENT ids.
func transcriptIDs(t *testing.T, ts *testServer, connectionToken string) []string {
	t.Helper()
	var ids []string
	err := ts.participantClient().GetTranscriptPages(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(connectionToken),
		MaxResults: v1aws.Int64(100), SortOrder: v1aws.String("ASCENDING")},
		func(p *cp.GetTranscriptOutput, _ bool) bool {
			var page []string
			for _, it := range p.Transcript {
				if *it.Type == "MESSAGE" || *it.Type == "ATTACHMENT" {
					page = append(page, *it.Id)
				}
			}
			ids = append(page, ids...)
			return true
		})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// once fails if an id appears twice.
func once(t *testing.T, what string, ids []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("%s: %s delivered twice", what, id)
			return
		}
		seen[id] = true
	}
}

// threeParties starts a chat through the balancer with a customer and
// two more senders, and returns their participant tokens. With bot, the
// others are agents: on Connect an agent joining makes a CUSTOM_BOT
// leave, so a bot and an agent never send at once.
func (c *cluster) threeParties(t *testing.T) (chat chatDetails, tokens []string) {
	t.Helper()
	chat = c.ts.startChat(t, nil)
	a1, a2 := c.ts.addAgent(t, chat.ContactID), c.ts.addAgent(t, chat.ContactID)
	return chat, []string{chat.ParticipantToken, a1.ParticipantToken, a2.ParticipantToken}
}

// burst sends perSender messages from each connection token at once,
// through the balancer, and returns how many were acknowledged.
func burst(t *testing.T, ts *testServer, tokens []string, perSender int, pause time.Duration) int {
	t.Helper()
	var wg sync.WaitGroup
	var acked atomic.Int64
	for s, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := ts.participantClient()
			for i := range perSender {
				if _, err := pc.SendMessage(sendInput(tok, fmt.Sprintf("s%d-%d", s, i))); err != nil {
					t.Errorf("sender %d: %v", s, err)
					return
				}
				acked.Add(1)
				time.Sleep(pause)
			}
		}()
	}
	wg.Wait()
	return int(acked.Load())
}

// TestClusterOneOrderEverywhere: a ChatJS customer and Go clients for two
// agents send at once through the balancer, their requests spread
// over three nodes; sockets on every node see every message once, in one
// order, which is the transcript's. Tokens made by one node work on all.
func TestClusterOneOrderEverywhere(t *testing.T) {
	c := startCluster(t, 3)
	chat, ptokens := c.threeParties(t)
	customer := newPeer(t, "customer", c.lb.URL, chat)
	customer.mustCall("connect", nil)
	customer.waitFor("onConnectionEstablished for the socket", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onConnectionEstablished" && ev.Data != nil
	})
	var cols []*collector
	for i := range 3 {
		for p, tok := range ptokens {
			cols = append(cols, c.dialOn(t, i, fmt.Sprintf("node%d/participant%d", i+1, p), tok))
		}
	}
	// Connection tokens are made by whichever node the balancer picks and
	// used on the others.
	var ctokens []string
	for _, tok := range ptokens[1:] {
		ctokens = append(ctokens, c.ts.connectionToken(t, tok))
	}
	const perSender = 40
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range perSender {
			if _, err := customer.call("sendMessage", map[string]string{"contentType": "text/plain", "message": fmt.Sprint("customer ", i)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	acked := burst(t, c.ts, ctokens, perSender, 0)
	wg.Wait()
	total := acked + perSender
	if t.Failed() {
		return
	}
	want := transcriptIDs(t, c.ts, ctokens[0])
	if len(want) != total {
		t.Fatalf("transcript has %d messages, %d were acknowledged", len(want), total)
	}
	for _, col := range cols {
		got := col.waitMessages(t, total, 10*time.Second)
		once(t, col.name, got)
		sameOrder(t, col.name+" against the transcript", got[:total], want)
	}
	// ChatJS's own socket got them all too.
	for range total {
		customer.waitFor("every message on ChatJS", 10*time.Second, func(ev peerEvent) bool {
			return ev.Event == "onMessage" && ev.Data["Type"] == "MESSAGE"
		})
	}
}

// TestClusterNATSFaults: with NATS dropping 1% of its messages, and then
// restarting in the middle of a burst, every open socket on every node
// still gets every message, in order, within 10 s of the last send (five
// periodic checks; room for a loaded machine); while NATS is down sends
// commit and /readyz says the node is not ready.
func TestClusterNATSFaults(t *testing.T) {
	c := startCluster(t, 3)
	_, ptokens := c.threeParties(t)
	var cols []*collector
	for i := range 3 {
		cols = append(cols, c.dialOn(t, i, fmt.Sprint("node", i+1), ptokens[i]))
	}
	var ctokens []string
	for _, tok := range ptokens {
		ctokens = append(ctokens, c.ts.connectionToken(t, tok))
	}
	c.lossy.DropEvery(100)
	sent := burst(t, c.ts, ctokens, 100, 2*time.Millisecond)
	if c.lossy.Dropped.Load() == 0 {
		t.Fatal("the proxy dropped nothing: the test tests nothing")
	}
	t.Logf("NATS lost %d messages of a %d-message burst", c.lossy.Dropped.Load(), sent)
	c.lossy.DropEvery(0)

	// Restart NATS during a second burst.
	done := make(chan int)
	go func() { done <- burst(t, c.ts, ctokens, 60, 5*time.Millisecond) }()
	time.Sleep(100 * time.Millisecond)
	c.nats.Stop()
	// The node notices the lost connection when its client does: poll,
	// generously, rather than assume a fixed wait is enough under load.
	equal(t, "/readyz with NATS down", pollReadyz(t, c.nodes[0].URL, http.StatusServiceUnavailable, 10*time.Second), http.StatusServiceUnavailable)
	resp, _ := rawRequest(t, "GET", c.nodes[0].URL+"/healthz", nil, "")
	equal(t, "/healthz with NATS down", resp.StatusCode, http.StatusOK)
	c.nats.Restart(0)
	sent += <-done
	last := time.Now()
	want := transcriptIDs(t, c.ts, ctokens[0])
	if len(want) != sent {
		t.Fatalf("transcript has %d messages, %d were acknowledged", len(want), sent)
	}
	for _, col := range cols {
		got := col.waitMessages(t, sent, 10*time.Second-time.Since(last))
		once(t, col.name, got)
		sameOrder(t, col.name+" against the transcript", got[:sent], want)
	}
	if got := pollReadyz(t, c.nodes[0].URL, http.StatusOK, 5*time.Second); got != http.StatusOK {
		t.Fatalf("/readyz after NATS returned: %d", got)
	}
}

// pollReadyz asks a node's /readyz until it answers want or within has
// passed, and returns the last status: a node notices a change when its
// clients do, so a fixed wait is never enough under load.
func pollReadyz(t *testing.T, nodeURL string, want int, within time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		resp, _ := rawRequest(t, "GET", nodeURL+"/readyz", nil, "")
		if resp.StatusCode == want || time.Now().After(deadline) {
			return resp.StatusCode
		}
	}
}

// TestClusterStopContactEndsOnce: StopContact on one node gives exactly one
// chat.ended on the sockets of every node, which then close.
func TestClusterStopContactEndsOnce(t *testing.T) {
	c := startCluster(t, 3)
	chat, ptokens := c.threeParties(t)
	var cols []*collector
	for i := range 3 {
		cols = append(cols, c.dialOn(t, i, fmt.Sprint("node", i+1), ptokens[i]))
	}
	if _, err := c.node(1).connectClient().StopContact(context.Background(), stopInput(c.ts, chat.ContactID)); err != nil {
		t.Fatal(err)
	}
	for _, col := range cols {
		select {
		case <-col.closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still open 5 s after StopContact", col.name)
		}
		col.mu.Lock()
		if col.ended != 1 {
			t.Errorf("%s: %d chat.ended", col.name, col.ended)
		}
		col.mu.Unlock()
	}
}

// TestClusterAttachmentAcrossNodes: an attachment started on node 1 is put
// (through node 1) into S3, completed on node 2, received on node 3's
// socket and downloaded there and through node 1 with the URL node 3
// signed; it is in the bucket and in no node's data dir.
func TestClusterAttachmentAcrossNodes(t *testing.T) {
	gw := testfiles.Versitygw(t)
	bucket := gw.NewBucket(t)
	gw.Setenv(t)
	c := startCluster(t, 3, "PARLEY_S3_BUCKET", bucket, "PARLEY_S3_PATH_STYLE", "true")
	_, ptokens := c.threeParties(t)
	receiver := c.dialOn(t, 2, "node3", ptokens[1])
	customer := c.ts.connectionToken(t, ptokens[0])
	data := testfiles.PNG(640, 480)

	start, err := c.node(0).participantClient().StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(customer),
		AttachmentName: v1aws.String("photo.png"), AttachmentSizeInBytes: v1aws.Int64(int64(len(data))),
		ContentType: v1aws.String("image/png"), ClientToken: v1aws.String("upload-1")})
	if err != nil {
		t.Fatal(err)
	}
	put, _ := http.NewRequest("PUT", c.on(0, *start.UploadMetadata.Url), bytes.NewReader(data))
	for k, v := range start.UploadMetadata.HeadersToInclude {
		put.Header.Set(k, *v)
	}
	if resp, body := send(t, put); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT on node 1: %d %s", resp.StatusCode, body)
	}
	if _, err := c.node(1).participantClient().CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(customer),
		AttachmentIds: v1aws.StringSlice([]string{*start.AttachmentId}), ClientToken: v1aws.String("complete-1")}); err != nil {
		t.Fatalf("CompleteAttachmentUpload on node 2: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for approved := false; !approved; {
		receiver.mu.Lock()
		for _, it := range receiver.items {
			if a := firstAttachment(it); a != nil && a["AttachmentId"] == *start.AttachmentId && a["Status"] == "APPROVED" {
				approved = true
			}
		}
		receiver.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("node 3's socket did not receive the approved attachment")
		}
		time.Sleep(20 * time.Millisecond)
	}
	agent := c.ts.connectionToken(t, ptokens[1])
	got, err := c.node(2).participantClient().GetAttachment(&cp.GetAttachmentInput{ConnectionToken: v1aws.String(agent), AttachmentId: start.AttachmentId})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{2, 0} {
		resp, body := rawRequest(t, "GET", c.on(i, *got.Url), nil, "")
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Errorf("download through node %d: %d, %d bytes", i+1, resp.StatusCode, len(body))
		}
	}
	// The preview is made once, kept in the bucket, and served by any node.
	thumb := strings.Replace(*got.Url, "?", "/thumbnail?", 1)
	for _, i := range []int{2, 0} {
		resp, body := rawRequest(t, "GET", c.on(i, thumb), nil, "")
		if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte("\x89PNG")) && !bytes.HasPrefix(body, []byte("\xff\xd8")) {
			t.Errorf("preview through node %d: %d, %d bytes", i+1, resp.StatusCode, len(body))
		}
	}
	objects, err := gw.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objects.Contents {
		keys = append(keys, *o.Key)
	}
	if len(keys) != 2 || !strings.HasSuffix(keys[0]+keys[1], "-thumb") && !strings.HasSuffix(keys[1]+keys[0], "-thumb") {
		t.Errorf("the bucket holds %v, not the file and its preview", keys)
	}
	for i, n := range c.nodes {
		filepath.WalkDir(n.DataDir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(path); bytes.Contains(b, data[:32]) {
					t.Errorf("node %d keeps the attachment in its data dir: %s", i+1, path)
				}
			}
			return nil
		})
	}
}

// TestClusterDrainLosesNothing: a node drains during a burst: /readyz
// turns 503, its sockets close with 1012, their clients reconnect through
// the balancer and catch up from the transcript; nothing acknowledged is
// lost and the other nodes' sockets get everything.
func TestClusterDrainLosesNothing(t *testing.T) {
	c := startCluster(t, 3)
	_, ptokens := c.threeParties(t)
	drained := c.dialOn(t, 1, "on the draining node", ptokens[0])
	other := c.dialOn(t, 0, "on node 1", ptokens[1])
	var ctokens []string
	for _, tok := range ptokens {
		ctokens = append(ctokens, c.ts.connectionToken(t, tok))
	}
	done := make(chan int)
	go func() { done <- burst(t, c.ts, ctokens, 60, 5*time.Millisecond) }()
	time.Sleep(150 * time.Millisecond)
	drainDone := make(chan struct{})
	go func() { c.nodes[1].srv.Drain(500 * time.Millisecond); close(drainDone) }()
	// Drain runs in its goroutine: poll until it has begun (the node stays
	// unready from then on).
	equal(t, "/readyz while draining", pollReadyz(t, c.nodes[1].URL, http.StatusServiceUnavailable, 10*time.Second), http.StatusServiceUnavailable)
	<-drainDone
	select {
	case <-drained.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the draining node's socket is still open")
	}
	drained.mu.Lock()
	equal(t, "close code", drained.status, websocket.StatusServiceRestart)
	drained.mu.Unlock()
	// The balancer stops sending to the drained node (its /readyz says so)
	// and the node stops.
	c.lb.set(c.nodes[0].URL, c.nodes[2].URL)
	before := drained.messages()
	again := c.dialOn(t, 0, "reconnected", ptokens[0])
	sent := <-done
	want := transcriptIDs(t, c.ts, ctokens[0])
	if len(want) != sent {
		t.Fatalf("transcript has %d messages, %d were acknowledged", len(want), sent)
	}
	got := other.waitMessages(t, sent, 10*time.Second)
	sameOrder(t, "node 1's socket", got[:sent], want)
	// What the drained socket got is a prefix of the transcript, and the
	// transcript plus the new socket cover the rest.
	sameOrder(t, "before the drain", before, want[:len(before)])
	after := again.messages()
	for i := range want {
		if len(after) > 0 && want[i] == after[0] && i+len(after) <= len(want) {
			sameOrder(t, "after reconnecting", after, want[i:i+len(after)])
		}
	}
}

// TestClusterKillNode: three nodes as processes; one is killed with
// SIGKILL during a burst. Every acknowledged message is in the transcript
// once; sockets on the surviving nodes get them all in order, and a client
// whose node died reconnects through the balancer and catches up.
func TestClusterKillNode(t *testing.T) {
	lb := startBalancer(t)
	db := pgtest.NewDatabase(t)
	natsURL := testfiles.NATSProcess(t) // Debian's nats-server
	var procs []*process
	var urls []string
	for i := range 3 {
		p := startNode(t, t.TempDir(), "PARLEY_DATABASE_URL="+db, "PARLEY_NATS_URL="+natsURL, "PARLEY_PUBLIC_URL="+lb.URL,
			fmt.Sprint("PARLEY_NODE_ID=node", i+1))
		procs = append(procs, p)
		urls = append(urls, p.url)
	}
	lb.set(urls...)
	c := &cluster{lb: lb, ts: &testServer{URL: lb.URL, InstanceID: "test-instance"}}
	for _, u := range urls {
		c.nodes = append(c.nodes, &testServer{URL: u})
	}
	chat := c.ts.startChat(t, nil)
	agent := c.ts.addAgent(t, chat.ContactID)
	onDead := c.dialOnURL(t, urls[1], "on node 2", chat.ParticipantToken)
	survivor := c.dialOnURL(t, urls[2], "on node 3", agent.ParticipantToken)
	ctokens := []string{c.ts.connectionToken(t, chat.ParticipantToken), c.ts.connectionToken(t, agent.ParticipantToken)}

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for s, tok := range ctokens {
		for k := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pc := c.ts.participantClient()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					out, err := pc.SendMessage(sendInput(tok, fmt.Sprintf("s%d-%d-%d", s, k, i)))
					if err == nil {
						mu.Lock()
						acked = append(acked, *out.Id)
						mu.Unlock()
					}
				}
			}()
		}
	}
	time.Sleep(500 * time.Millisecond)
	procs[1].kill()
	lb.set(urls[0], urls[2])
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	want := transcriptIDs(t, c.ts, ctokens[0])
	once(t, "transcript", want)
	inTranscript := map[string]bool{}
	for _, id := range want {
		inTranscript[id] = true
	}
	for _, id := range acked {
		if !inTranscript[id] {
			t.Errorf("acknowledged message %s lost", id)
		}
	}
	got := survivor.waitMessages(t, len(want), 10*time.Second)
	sameOrder(t, "the surviving node's socket", got[:len(want)], want)
	select {
	case <-onDead.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the killed node's socket did not close")
	}
	// Its client reconnects through the balancer and reads the transcript.
	again := c.dialOnURL(t, lb.URL, "reconnected", chat.ParticipantToken)
	if _, err := c.ts.participantClient().SendMessage(sendInput(ctokens[1], "after the kill")); err != nil {
		t.Fatal(err)
	}
	again.waitMessages(t, 1, 10*time.Second)
	equal(t, "transcript after reconnecting", len(transcriptIDs(t, c.ts, ctokens[0])), len(want)+1)
	t.Logf("%d messages acknowledged, %d in the transcript", len(acked), len(want))
}

// dialOnURL is dialOn against a base URL.
func (c *cluster) dialOnURL(t *testing.T, base, name, participantToken string) *collector {
	t.Helper()
	out, err := c.ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(participantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(*out.Websocket.Url)
	b, _ := url.Parse(base)
	u.Host = b.Host
	return dialCollector(t, name, u.String())
}

// startNode runs the built binary as one node with env ("NAME=value") and
// waits until it listens.
func startNode(t *testing.T, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(parleyBin, "serve")
	cmd.Env = append(append(os.Environ(), "PARLEY_ADDR=127.0.0.1:0", "PARLEY_DATA_DIR="+dataDir,
		"PARLEY_ACCESS_KEY_ID="+testAKID, "PARLEY_SECRET_ACCESS_KEY="+testSecret, "PARLEY_INSTANCE_ID=test-instance"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-found:
		// The banner names the public URL (the balancer's); the node's
		// own address is in its listen line.
		p.url = u
	case <-time.After(30 * time.Second):
		t.Fatal("parley did not start listening within 30s")
	}
	return p
}

// TestDrainOnSIGTERM: on SIGTERM /readyz turns 503 while the sockets are
// still open; they then close with 1012 one after another over
// PARLEY_DRAIN_SECONDS, not at once; then the process exits cleanly.
// Three seconds of drain: the first socket closes a second after the
// SIGTERM, room enough on a loaded machine for the /readyz poll to see
// the 503 first (that it comes before any close is what is checked; how
// soon after the signal is not).
func TestDrainOnSIGTERM(t *testing.T) {
	p := startNode(t, t.TempDir(), "PARLEY_DRAIN_SECONDS=3")
	ts := &testServer{URL: p.url, InstanceID: "test-instance"}
	chat := ts.startChat(t, nil)
	var cols []*collector
	for i := range 3 {
		cols = append(cols, dialCollector(t, fmt.Sprint("socket", i), wsURL(t, ts, chat.ParticipantToken)))
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	for {
		resp, err := http.Get(p.url + "/readyz")
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
			resp.Body.Close()
			break
		}
		if err == nil {
			resp.Body.Close()
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("/readyz did not turn 503 on SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, col := range cols {
		select {
		case <-col.closed:
			t.Fatalf("%s closed before /readyz turned 503", col.name)
		default:
		}
	}
	first, last := time.Now().Add(time.Hour), time.Time{}
	for _, col := range cols {
		select {
		case <-col.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still open", col.name)
		}
		equal(t, col.name+" close code", col.status, websocket.StatusServiceRestart)
		if col.at.Before(first) {
			first = col.at
		}
		if col.at.After(last) {
			last = col.at
		}
	}
	// Three sockets over 3 s close about a second apart.
	if last.Sub(first) < 1200*time.Millisecond {
		t.Errorf("the sockets closed within %s of each other: not paced over the drain", last.Sub(first))
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after the drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not exit after the drain")
	}
}

// wsURL makes a websocket URL for a participant.
func wsURL(t *testing.T, ts *testServer, participantToken string) string {
	t.Helper()
	out, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(participantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
	if err != nil {
		t.Fatal(err)
	}
	return *out.Websocket.Url
}

// TestClusterSocketLimit: Connect's five websockets per participant hold
// across nodes: three on node 1 and two on node 2 leave no room on node 3
// until one closes.
func TestClusterSocketLimit(t *testing.T) {
	c := startCluster(t, 3)
	chat := c.ts.startChat(t, nil)
	var cols []*collector
	for i, node := range []int{0, 0, 0, 1, 1} {
		cols = append(cols, c.dialOn(t, node, fmt.Sprint("socket", i), chat.ParticipantToken))
	}
	sixth := c.on(2, wsURL(t, c.ts, chat.ParticipantToken))
	if _, resp, err := websocket.Dial(context.Background(), sixth, nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a sixth socket on node 3: %v", err)
	}
	cols[0].conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, resp, err := websocket.Dial(context.Background(), c.on(2, wsURL(t, c.ts, chat.ParticipantToken)), nil)
		if err == nil {
			conn.CloseNow()
			break
		}
		if time.Now().After(deadline) || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after one closed, node 3: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterConsoleAcceptExclusive: two console agents on two nodes
// accept the same queued chats at once: each chat goes to exactly one,
// and the queue on a third node is empty afterwards. A console on the
// third node hears of the new chats and of the accepts at once, over NATS.
func TestClusterConsoleAcceptExclusive(t *testing.T) {
	c := startCluster(t, 3)
	keys := []string{c.nodes[0].addConsoleAgent(t, "Grace"), c.nodes[0].addConsoleAgent(t, "Ada")}
	events := consoleEvents(t, c.nodes[2].URL, keys[0])
	equal(t, "the first event on node 3", events.next(t), "event: queue")
	var chats []string
	for range 10 {
		chats = append(chats, c.node(0).startChat(t, nil).ContactID)
	}
	start := time.Now()
	equal(t, "node 3's console after chats started on node 1", events.next(t), "event: queue")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("node 3's console heard of node 1's chats after %v", d)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]int{}
	for a, key := range keys {
		for _, id := range chats {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := rawRequest(t, "POST", c.nodes[a].URL+"/agent/v1/chats/"+id+"/accept", bearer(key), "")
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					won[id]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for _, id := range chats {
		if won[id] != 1 {
			t.Errorf("chat %s accepted %d times", id, won[id])
		}
	}
	for events.next(t) != "event: chats" { // the agents' chats changed on nodes 1 and 2
	}
	resp, b := rawRequest(t, "GET", c.nodes[2].URL+"/agent/v1/queue", bearer(keys[0]), "")
	var q struct{ Total int }
	jsonUnmarshal(t, b, &q)
	if resp.StatusCode != 200 || q.Total != 0 {
		t.Errorf("node 3's queue after the accepts: %d %s", resp.StatusCode, b)
	}
}

// eventStream reads a console's server-sent events.
type eventStream struct {
	lines *bufio.Scanner
}

// consoleEvents opens the console event stream of an agent on a node; it
// ends with the test, and a read gives up after 10 s.
func consoleEvents(t *testing.T, base, key string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/agent/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("console events: %d", resp.StatusCode)
	}
	return &eventStream{lines: bufio.NewScanner(resp.Body)}
}

// next returns the next "event: …" line.
func (e *eventStream) next(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		for e.lines.Scan() {
			if l := e.lines.Text(); strings.HasPrefix(l, "event: ") {
				got <- l
				return
			}
		}
		got <- ""
	}()
	select {
	case l := <-got:
		if l == "" {
			t.Fatal("the console's event stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no console event in 10 s")
		return ""
	}
}

// TestClusterAbandonSeesSocketsOnOtherNodes: a waiting widget chat whose
// customer has a websocket open on one node is not ended as abandoned by
// another node's watch, which sees no socket of its own.
func TestClusterAbandonSeesSocketsOnOtherNodes(t *testing.T) {
	c := startCluster(t, 2, "PARLEY_WIDGET_ABANDON", "1s")
	_, w := c.node(0).startWidgetChat(t, nil, "")
	col := c.dialOn(t, 0, "customer", w.ParticipantToken)
	time.Sleep(3 * time.Second) // past the timeout on both nodes, with the socket open on node 1
	out, err := c.ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{
		InstanceId: aws.String(c.ts.InstanceID), ContactId: aws.String(w.ContactId)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Contact.DisconnectTimestamp != nil {
		t.Fatalf("the waiting chat of a connected customer ended (%s): another node saw no socket of its own",
			aws.ToString(out.Contact.DisconnectReason))
	}
	col.conn.Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := c.ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{
			InstanceId: aws.String(c.ts.InstanceID), ContactId: aws.String(w.ContactId)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Contact.DisconnectTimestamp != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the chat did not end after its customer's socket closed")
		}
	}
}
