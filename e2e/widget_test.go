package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
)

type widgetChat struct{ ContactId, ParticipantId, ParticipantToken string }

// startWidgetChat starts a chat through the widget's endpoint.
func (ts *testServer) startWidgetChat(t *testing.T, header map[string]string, body string) (*http.Response, widgetChat) {
	t.Helper()
	if body == "" {
		body = `{"DisplayName":"Ada"}`
	}
	resp, b := rawRequest(t, "POST", ts.URL+"/widget/v1/chats", header, body)
	var c widgetChat
	if resp.StatusCode == 200 {
		jsonUnmarshal(t, b, &c)
	}
	return resp, c
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// TestWidgetBehindTrustedProxy: behind a proxy in PARLEY_TRUSTED_PROXIES
// each client (the right-most untrusted X-Forwarded-For) has its own rate
// limit, rather than the whole site sharing the proxy's.
func TestWidgetBehindTrustedProxy(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_RATE", "1", "PARLEY_TRUSTED_PROXIES", "127.0.0.0/8")
	for _, client := range []string{"198.51.100.1", "198.51.100.2", "2001:db8:1:2::1"} {
		resp, _ := ts.startWidgetChat(t, map[string]string{"X-Forwarded-For": "6.6.6.6, " + client}, "")
		equal(t, "first chat of client "+client, resp.StatusCode, 200)
	}
	resp, _ := ts.startWidgetChat(t, map[string]string{"X-Forwarded-For": "198.51.100.1"}, "")
	equal(t, "a client's second chat in the minute", resp.StatusCode, 429)
	resp, _ = ts.startWidgetChat(t, map[string]string{"X-Forwarded-For": "2001:db8:1:2:abcd::7"}, "")
	equal(t, "another address of the same IPv6 /64", resp.StatusCode, 429)
}

// TestWidgetQueueCeiling: beyond PARLEY_WIDGET_MAX_QUEUED waiting widget
// chats the widget's start-chat answers 503 in plain words; the Connect
// API still starts chats.
func TestWidgetQueueCeiling(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_RATE", "100", "PARLEY_WIDGET_MAX_QUEUED", "3")
	for i := range 3 {
		resp, _ := ts.startWidgetChat(t, nil, "")
		equal(t, fmt.Sprintf("widget chat %d", i+1), resp.StatusCode, 200)
	}
	resp, b := rawRequest(t, "POST", ts.URL+"/widget/v1/chats", nil, `{"DisplayName":"Ada"}`)
	equal(t, "a fourth waiting widget chat", resp.StatusCode, 503)
	if !strings.Contains(string(b), "try again in a few minutes") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a full queue answered %s (Retry-After %q)", b, resp.Header.Get("Retry-After"))
	}
	ts.startChat(t, nil) // the Connect API is not the widget's to limit
}

// TestConsoleQueuePages: the console's queue never hides a chat: it says
// how many wait and pages through all of them.
func TestConsoleQueuePages(t *testing.T) {
	ts := startServer(t)
	key := ts.addConsoleAgent(t, "Grace")
	want := map[string]bool{}
	for range 40 {
		want[ts.startChat(t, nil).ContactID] = true
	}
	seen := map[string]bool{}
	next := ""
	for pages := 1; ; pages++ {
		resp, b := rawRequest(t, "GET", ts.URL+"/agent/v1/queue?next="+next, bearer(key), "")
		equal(t, "queue status", resp.StatusCode, 200)
		var q struct {
			Waiting   []struct{ ContactId string }
			Total     int
			NextToken string
		}
		jsonUnmarshal(t, b, &q)
		equal(t, "total waiting", q.Total, 40)
		for _, w := range q.Waiting {
			seen[w.ContactId] = true
		}
		if q.NextToken == "" {
			equal(t, "pages", pages, 2)
			break
		}
		if pages > 5 {
			t.Fatal("the pages never end")
		}
		next = q.NextToken
	}
	equal(t, "chats seen over the pages", len(seen), len(want))
}

// TestConsoleShowsCustomerSuppliedAttributes: what a browser sent through
// the widget reaches agents as CustomerAttributes, never as the Attributes
// the Connect API sets.
func TestConsoleShowsCustomerSuppliedAttributes(t *testing.T) {
	ts := startServer(t)
	key := ts.addConsoleAgent(t, "Grace")
	_, c := ts.startWidgetChat(t, nil, `{"DisplayName":"Mallory","Attributes":{"accountVerified":"true"}}`)
	resp, b := rawRequest(t, "GET", ts.URL+"/agent/v1/queue", bearer(key), "")
	equal(t, "queue", resp.StatusCode, 200)
	var q struct {
		Waiting []struct{ Attributes, CustomerAttributes map[string]string }
	}
	jsonUnmarshal(t, b, &q)
	if len(q.Waiting) != 1 || len(q.Waiting[0].Attributes) != 0 || q.Waiting[0].CustomerAttributes["accountVerified"] != "true" {
		t.Errorf("the queue shows %s", b)
	}
	resp, b = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+c.ContactId+"/accept", bearer(key), "")
	equal(t, "accept", resp.StatusCode, 200)
	if !strings.Contains(string(b), `"Attributes":{}`) || !strings.Contains(string(b), `"CustomerAttributes":{"accountVerified":"true"}`) {
		t.Errorf("accept answered %s", b)
	}
}

// TestWidgetOriginIgnoresHost: with an allow-list, a page on a name that
// rebinds to Parley (its Host and Origin agree) is refused: Parley's own
// origin is its public URL's.
func TestWidgetOriginIgnoresHost(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_ORIGINS", "https://shop.example")
	port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]
	req, _ := http.NewRequest("POST", ts.URL+"/widget/v1/chats", strings.NewReader(`{"DisplayName":"Ada"}`))
	req.Host = "rebind.example:" + port
	req.Header.Set("Origin", "http://rebind.example:"+port)
	resp, _ := send(t, req)
	equal(t, "a rebound page", resp.StatusCode, 403)
	resp, _ = ts.startWidgetChat(t, map[string]string{"Origin": ts.URL}, "")
	equal(t, "Parley's own page", resp.StatusCode, 200)
}

// TestAbandonedWidgetChatsEnd: a queued widget chat whose customer has had
// no websocket for PARLEY_WIDGET_ABANDON ends as StopContact ends it; a
// customer with a socket open keeps waiting until the socket closes.
func TestAbandonedWidgetChatsEnd(t *testing.T) {
	// The customer who stays connects first and at once: its socket must
	// open within PARLEY_WIDGET_ABANDON of its start, which 2 s leaves
	// room for on a loaded machine; the one who left starts after it, so
	// by the time that one has ended, the first's timeout has passed too.
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_ABANDON", "2s")
	_, here := ts.startWidgetChat(t, nil, "")
	ws := dialChatUntracked(t, ts, here.ParticipantToken)
	_, gone := ts.startWidgetChat(t, nil, "")
	api := ts.startChat(t, nil) // Connect API chats are not the widget's to end
	describe := func(id string) ctypes.Contact {
		out, err := ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{
			InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.Contact
	}
	ended := func(id string) bool { return describe(id).DisconnectTimestamp != nil }
	waitEnded := func(what, id string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ended(id); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the %s chat did not end", what)
			}
		}
	}
	waitEnded("abandoned", gone.ContactId)
	equal(t, "disconnect reason", aws.ToString(describe(gone.ContactId).DisconnectReason), "CUSTOMER_CONNECTION_NOT_ESTABLISHED")
	_, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(gone.ParticipantToken), Type: v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"})})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("the abandoned chat's customer connecting: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // well past the timeout, with the socket open
	if ended(here.ContactId) || ended(api.ContactID) {
		t.Fatal("a chat with its customer connected, or a Connect API chat, ended")
	}
	ws.conn.Close(websocket.StatusNormalClosure, "")
	waitEnded("left", here.ContactId)
	if ended(api.ContactID) {
		t.Error("the Connect API chat ended")
	}
}

// TestConsoleAgentKeys: agents are listed, and a rotated or removed key
// stops working on the running server at once.
func TestConsoleAgentKeys(t *testing.T) {
	ts := startServer(t)
	old := ts.addConsoleAgent(t, "Grace")
	ts.addConsoleAgent(t, "Alan")
	env := map[string]string{"PARLEY_DATA_DIR": ts.DataDir, "PARLEY_INSTANCE_ID": ts.InstanceID,
		"PARLEY_ACCESS_KEY_ID": testAKID, "PARLEY_SECRET_ACCESS_KEY": testSecret, "PARLEY_DATABASE_URL": ts.DatabaseURL}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	agents, err := server.ListAgents(ctx, cfg)
	if err != nil || len(agents) != 2 || agents[0].Name != "Alan" || agents[1].Name != "Grace" {
		t.Fatalf("agents: %+v, %v", agents, err)
	}
	me := func(key string) int {
		resp, _ := rawRequest(t, "GET", ts.URL+"/agent/v1/me", bearer(key), "")
		return resp.StatusCode
	}
	equal(t, "the key before rotation", me(old), 200)
	rotated, err := server.RotateAgentKey(ctx, cfg, "Grace")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "the old key after rotation", me(old), 403)
	equal(t, "the new key", me(rotated), 200)
	if err := server.RemoveAgent(ctx, cfg, "Grace"); err != nil {
		t.Fatal(err)
	}
	equal(t, "a removed agent's key", me(rotated), 403)
	if err := server.RemoveAgent(ctx, cfg, "Grace"); err == nil {
		t.Error("removing an agent twice succeeded")
	}
	if _, err := server.RotateAgentKey(ctx, cfg, "Nobody"); err == nil {
		t.Error("rotating an unknown agent's key succeeded")
	}
}
