package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connect"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
	"github.com/coder/websocket"
)

// wsClient is a minimal Go client of the websocket protocol ChatJS speaks.
type wsClient struct {
	conn *websocket.Conn
}

func dialChat(t testing.TB, ts *testServer, participantToken string) *wsClient {
	t.Helper()
	c := dialChatUntracked(t, ts, participantToken)
	t.Cleanup(func() { c.conn.CloseNow() })
	return c
}

// dialChatUntracked is dialChat for callers that close the socket
// themselves: a cleanup would keep every client connection alive to the
// test's end.
func dialChatUntracked(t testing.TB, ts *testServer, participantToken string) *wsClient {
	t.Helper()
	out, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(participantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, *out.Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{conn: conn}
	c.send(t, `{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)
	if f := c.next(t); f.Topic != "aws/subscribe" || !strings.Contains(string(f.Content), `"status":"success"`) {
		t.Fatalf("subscribe reply %+v", f)
	}
	return c
}

type wsFrame struct {
	Topic       string          `json:"topic"`
	ContentType string          `json:"contentType"`
	Content     json.RawMessage `json:"content"`
	StatusCode  int             `json:"statusCode"`
}

func (c *wsClient) send(t testing.TB, frame string) {
	t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

func (c *wsClient) next(t testing.TB) wsFrame {
	t.Helper()
	f, err := c.read(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (c *wsClient) read(timeout time.Duration) (wsFrame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return wsFrame{}, err
	}
	var f wsFrame
	err = json.Unmarshal(b, &f)
	return f, err
}

// item decodes an aws/chat frame's Item.
func (f wsFrame) item(t testing.TB) map[string]any {
	t.Helper()
	var s string
	if f.Topic != "aws/chat" || f.ContentType != "application/json" || json.Unmarshal(f.Content, &s) != nil {
		t.Fatalf("not a chat item frame: %+v", f)
	}
	var it map[string]any
	if err := json.Unmarshal([]byte(s), &it); err != nil {
		t.Fatal(err)
	}
	return it
}

func TestWebsocketControlFrames(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	c := dialChat(t, ts, chat.ParticipantToken)
	c.send(t, `{"topic":"aws/heartbeat"}`)
	equal(t, "heartbeat reply", c.next(t).Topic, "aws/heartbeat")
	c.send(t, `{"topic":"aws/ping"}`)
	f := c.next(t)
	equal(t, "ping reply", f.Topic+fmt.Sprint(f.StatusCode), "aws/ping200")

	// A websocket URL is good for one chat, signed: a forged one is refused.
	out, _ := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
	forged := strings.Replace(*out.Websocket.Url, "token=", "token=x", 1)
	if _, resp, err := websocket.Dial(context.Background(), forged, nil); err == nil || resp.StatusCode != 403 {
		t.Errorf("forged websocket URL: %v", err)
	}
	// At most five sockets per participant, as on Connect.
	for range 4 {
		dialChat(t, ts, chat.ParticipantToken)
	}
	out, _ = ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
	if _, resp, err := websocket.Dial(context.Background(), *out.Websocket.Url, nil); err == nil || resp.StatusCode != 429 {
		t.Errorf("sixth socket: %v", err)
	}
}

// TestSecondSocketGetsItemsFromItsUpgrade: a participant's second socket
// gets the items committed after its upgrade, queued until it subscribes,
// while the first socket is still open and gets them too. ChatJS opens
// such a socket when a heartbeat goes unanswered (its socket stalled or
// dead), subscribes it, and only then closes the old one; that switch
// fires no connection event, so neither ChatJS nor the app reads the
// transcript after it. An item committed between the new socket's upgrade
// and its subscription must therefore come on the new socket, even though
// ChatJS then passes it to onMessage twice when the old socket was alive
// (its README tells apps to de-duplicate by Id): delivering only after
// the subscription, as Connect does, would lose it whenever the old socket
// is dead, and the server cannot tell a dead socket from a live one.
func TestSecondSocketGetsItemsFromItsUpgrade(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	agentTok := ts.connectionToken(t, ts.addAgent(t, chat.ContactID).ParticipantToken)
	old := dialChat(t, ts, chat.ParticipantToken)

	out, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, *out.Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	renewed := &wsClient{conn: conn} // upgraded, not subscribed yet

	sent, err := ts.participantClient().SendMessage(sendInput(agentTok, "while the new socket subscribes"))
	if err != nil {
		t.Fatal(err)
	}
	waitSent := func(which string, c *wsClient) {
		t.Helper()
		for {
			f, err := c.read(10 * time.Second)
			if err != nil {
				t.Fatalf("the message never came on the %s socket: %v", which, err)
			}
			if f.Topic == "aws/chat" && f.item(t)["Id"] == *sent.Id {
				return
			}
		}
	}
	// Once the old socket has it, the chat's feed has offered it to every
	// socket of the chat: the new one holds it until it subscribes.
	waitSent("old", old)
	renewed.send(t, `{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)
	if f := renewed.next(t); f.Topic != "aws/subscribe" {
		t.Fatalf("the first frame on the new socket is %+v, want the subscription's reply", f)
	}
	waitSent("new", renewed)
}

// TestWebsocketOrderUnderConcurrentSenders: every socket of a chat receives
// every item once, in the same order, which is the transcript's order.
func TestWebsocketOrderUnderConcurrentSenders(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	var tokens []string
	var sockets []*wsClient
	for range 4 {
		a := ts.addAgent(t, chat.ContactID)
		tokens = append(tokens, ts.connectionToken(t, a.ParticipantToken))
		sockets = append(sockets, dialChat(t, ts, a.ParticipantToken))
	}
	sockets = append(sockets, dialChat(t, ts, chat.ParticipantToken))
	tokens = append(tokens, ts.connectionToken(t, chat.ParticipantToken))

	const perSender = 100
	pc := ts.participantClient()
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				if _, err := pc.SendMessage(sendInput(tok, fmt.Sprint(tok[:6], i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	total := perSender * len(tokens)
	orders := make([][]string, len(sockets))
	var rwg sync.WaitGroup
	for i, c := range sockets {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for len(orders[i]) < total {
				f, err := c.read(20 * time.Second)
				if err != nil {
					t.Errorf("socket %d after %d messages: %v", i, len(orders[i]), err)
					return
				}
				var s string
				json.Unmarshal(f.Content, &s)
				var it map[string]any
				json.Unmarshal([]byte(s), &it)
				if it["Type"] == "MESSAGE" {
					orders[i] = append(orders[i], it["Id"].(string))
				}
			}
		}()
	}
	wg.Wait()
	rwg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for _, id := range orders[0] {
		if seen[id] {
			t.Fatalf("item %s delivered twice", id)
		}
		seen[id] = true
	}
	for i := 1; i < len(orders); i++ {
		sameOrder(t, fmt.Sprintf("socket %d against socket 0", i), orders[i], orders[0])
	}
	var transcript []string
	pc.GetTranscriptPages(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tokens[0]), MaxResults: v1aws.Int64(100), SortOrder: v1aws.String("ASCENDING")},
		func(p *cp.GetTranscriptOutput, _ bool) bool {
			var page []string
			for _, it := range p.Transcript {
				if *it.Type == "MESSAGE" {
					page = append(page, *it.Id)
				}
			}
			transcript = append(page, transcript...)
			return true
		})
	sameOrder(t, "delivery order against the transcript's", orders[0], transcript)
}

// TestStuckSocketDoesNotSlowOthers: a client that never reads does not hold
// up delivery to the others; it is closed once its queue is full.
func TestStuckSocketDoesNotSlowOthers(t *testing.T) {
	// One participant sends 1500 messages back to back, far past any
	// client's pace and the default burst of 300: the rate limit is set
	// out of the way, as this measures the gateway.
	ts := startServerIn(t, t.TempDir(), "PARLEY_PARTICIPANT_BURST", "2000")
	chat := ts.startChat(t, &connect.StartChatContactInput{SupportedMessagingContentTypes: []string{"text/plain", "application/json"}})
	agent := ts.addAgent(t, chat.ContactID)
	stuck := dialChat(t, ts, agent.ParticipantToken) // never reads again
	healthy := dialChat(t, ts, chat.ParticipantToken)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()

	// 1500 items of 12 KB: well past the 256-item queue and what loopback
	// socket buffers hold (a few MB).
	const n = 1500
	big := `"` + strings.Repeat("x", 11990) + `"`
	start := time.Now()
	var maxLatency time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		got := 0
		for got < n {
			f, err := healthy.read(10 * time.Second)
			if err != nil {
				t.Errorf("healthy socket after %d items: %v", got, err)
				return
			}
			if f.Topic == "aws/chat" {
				got++
			}
		}
	}()
	for i := range n {
		sent := time.Now()
		in := sendInput(tok, big)
		in.ContentType = v1aws.String("application/json")
		in.ClientToken = v1aws.String(fmt.Sprint("m", i))
		if _, err := pc.SendMessage(in); err != nil {
			t.Fatal(err)
		}
		maxLatency = max(maxLatency, time.Since(sent))
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the healthy socket did not get every item")
	}
	t.Logf("%d messages in %v with a stuck socket; slowest SendMessage %v", n, time.Since(start), maxLatency)
	if maxLatency > 2*time.Second {
		t.Errorf("a SendMessage took %v: the stuck socket held up senders", maxLatency)
	}
	// The server has closed the stuck socket: once its client reads what was
	// buffered, the connection ends (with close 1013 if the close frame got
	// through the full buffers, else at the TCP level), and it never gets
	// all n items.
	got := 0
	for {
		f, err := stuck.read(15 * time.Second)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the stuck socket is still open after %d items", got)
			}
			break
		}
		if f.Topic == "aws/chat" {
			got++
		}
	}
	if got >= n {
		t.Errorf("the stuck socket received all %d items; it was never dropped", got)
	}
	t.Logf("the stuck socket had %d items buffered when it was dropped", got)
	if drops := value(scrape(t, ts.URL+"/metrics")["parley_websocket_slow_drops_total"], nil); drops < 1 {
		t.Errorf("parley_websocket_slow_drops_total = %v after a socket was dropped for falling behind", drops)
	}
}

// TestNoLeakOverManyConnections: thousands of connect/disconnect cycles
// leave no goroutines behind and no growing heap.
func TestNoLeakOverManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ts := startServer(t)
	// Spread over chats, as clients are: one participant reconnecting
	// thousands of times in seconds would be throttled.
	chats := make([]chatDetails, 20)
	for i := range chats {
		chats[i] = ts.startChat(t, nil)
	}
	n := 0
	cycle := func() {
		n++
		c := dialChatUntracked(t, ts, chats[n%len(chats)].ParticipantToken)
		c.send(t, `{"topic":"aws/heartbeat"}`)
		c.next(t)
		c.conn.Close(websocket.StatusNormalClosure, "")
	}
	for range 200 { // warm up pools
		cycle()
	}
	settle := func() (int, uint64) {
		var m runtime.MemStats
		for range 50 {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapInuse
	}
	g0, h0 := settle()
	for range 2000 {
		cycle()
	}
	g1, h1 := settle()
	t.Logf("goroutines %d → %d, heap in use %d KB → %d KB", g0, g1, h0>>10, h1>>10)
	if g1 > g0+5 {
		t.Errorf("goroutines grew from %d to %d over 2000 connections", g0, g1)
	}
	if h1 > h0+2<<20 { // 1 KB a connection
		t.Errorf("heap grew from %d KB to %d KB over 2000 connections", h0>>10, h1>>10)
	}
}

// sameOrder compares two id sequences, reporting the first difference only.
func sameOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d items, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("%s: first difference at %d: %s, want %s", what, i, got[i], want[i])
			return
		}
	}
}
