package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// TestConsoleKeepsChats: the server keeps which chats an agent holds, so a
// new tab reopens them (a connection through the agent API, no participant
// token needed), and after the end the agent still reads the transcript,
// with its receipts, which the participant API then refuses; the agent can
// leave a chat it abandoned.
func TestConsoleKeepsChats(t *testing.T) {
	ts := startServer(t)
	grace, alan := ts.addConsoleAgent(t, "Grace"), ts.addConsoleAgent(t, "Alan")
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }
	chat := ts.startChat(t, nil)
	customer := ts.connectionToken(t, chat.ParticipantToken)
	resp, b := rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as(grace), "")
	equal(t, "accept", resp.StatusCode, 200)

	// A new tab: the chat is listed, with the agent's participant id.
	resp, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats", as(grace), "")
	equal(t, "list status", resp.StatusCode, 200)
	var list struct {
		Chats []struct{ ContactId, ParticipantId, CustomerName string }
	}
	jsonUnmarshal(t, b, &list)
	if len(list.Chats) != 1 || list.Chats[0].ContactId != chat.ContactID || list.Chats[0].ParticipantId == "" {
		t.Fatalf("my chats: %s", b)
	}
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats", as(alan), "")
	if strings.Contains(string(b), chat.ContactID) {
		t.Errorf("another agent lists the chat: %s", b)
	}

	// It reconnects through the agent API, and talks.
	resp, b = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/connection", as(grace), "")
	equal(t, "connection", resp.StatusCode, 200)
	var conn struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	jsonUnmarshal(t, b, &conn)
	if conn.Websocket.Url == "" || conn.ConnectionCredentials.ConnectionToken == "" {
		t.Fatalf("connection answered %s", b)
	}
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/connection", as(alan), "")
	equal(t, "another agent's connection", resp.StatusCode, 403)
	bearer := func(tok string) map[string]string {
		return map[string]string{"X-Amz-Bearer": tok, "Content-Type": "application/json"}
	}
	resp, b = rawRequest(t, "POST", ts.URL+"/participant/message", bearer(conn.ConnectionCredentials.ConnectionToken),
		`{"ContentType":"text/plain","Content":"How can I help?"}`)
	equal(t, "agent sends", resp.StatusCode, 200)
	var sent struct{ Id string }
	jsonUnmarshal(t, b, &sent)
	resp, _ = rawRequest(t, "POST", ts.URL+"/participant/event", bearer(customer),
		`{"ContentType":"application/vnd.amazonaws.connect.event.message.read","Content":"{\"messageId\":\"`+sent.Id+`\"}"}`)
	equal(t, "customer reads", resp.StatusCode, 200)

	// The customer leaves: the chat ends.
	resp, _ = rawRequest(t, "POST", ts.URL+"/participant/disconnect", bearer(customer), `{}`)
	equal(t, "customer leaves", resp.StatusCode, 200)
	resp, _ = rawRequest(t, "POST", ts.URL+"/participant/transcript", bearer(conn.ConnectionCredentials.ConnectionToken), `{}`)
	equal(t, "participant transcript after the end", resp.StatusCode, 403)
	resp, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/transcript", as(grace), "")
	equal(t, "agent transcript after the end", resp.StatusCode, 200)
	if !strings.Contains(string(b), "How can I help?") || !strings.Contains(string(b), `"ReadTimestamp"`) ||
		!strings.Contains(string(b), "chat.ended") {
		t.Errorf("the transcript lacks the message, its read receipt or the end: %s", b)
	}
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/transcript", as(alan), "")
	equal(t, "another agent's transcript", resp.StatusCode, 403)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats", as(grace), "")
	if strings.Contains(string(b), chat.ContactID) {
		t.Errorf("an ended chat is still listed: %s", b)
	}

	// A chat abandoned in a lost tab: the agent leaves it through the API.
	other := ts.startChat(t, nil)
	rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+other.ContactID+"/accept", as(grace), "")
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+other.ContactID+"/leave", as(alan), "")
	equal(t, "another agent leaving", resp.StatusCode, 403)
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+other.ContactID+"/leave", as(grace), "")
	equal(t, "leave", resp.StatusCode, 204)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats", as(grace), "")
	if strings.Contains(string(b), other.ContactID) {
		t.Errorf("a chat left is still listed: %s", b)
	}
}

// TestConsoleQueueEvents: the console's event stream announces a change of
// the queue when a chat starts, instead of the console polling.
func TestConsoleQueueEvents(t *testing.T) {
	ts := startServer(t)
	grace := ts.addConsoleAgent(t, "Grace")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/agent/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+grace)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	equal(t, "status", resp.StatusCode, 200)
	equal(t, "type", resp.Header.Get("Content-Type"), "text/event-stream")
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "event: ") {
				return l
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return ""
	}
	equal(t, "first event", next(), "event: queue") // the console reads the queue at once
	start := time.Now()
	ts.startChat(t, nil)
	equal(t, "event on a new chat", next(), "event: queue")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the change came after %v", d)
	}
	// An agent joins: the queue changes, and so do the agents' chats.
	chat := ts.startChat(t, nil)
	for next() != "event: queue" { // the start's own push may come first
	}
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", map[string]string{"Authorization": "Bearer " + grace}, "")
	equal(t, "accept", resp.StatusCode, 200)
	got := map[string]bool{next(): true}
	if !got["event: chats"] {
		got[next()] = true
	}
	if !got["event: chats"] || !got["event: queue"] {
		t.Errorf("after an accept the stream sent %v, want queue and chats", got)
	}

	req, _ = http.NewRequest("GET", ts.URL+"/agent/v1/events", nil)
	resp2, b := send(t, req)
	equal(t, "no key", resp2.StatusCode, 401)
	_ = b
}

// TestConsoleAgentTools: Away agents are offered no chats; canned responses
// per instance; a customer's past chats by the CustomerId attribute (never
// by what a browser supplies); a search over the agent's own chats.
func TestConsoleAgentTools(t *testing.T) {
	ts := startServer(t)
	grace, alan := ts.addConsoleAgent(t, "Grace"), ts.addConsoleAgent(t, "Alan")
	as := func(key string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
	}

	// Away: the queue is empty for this agent, and Accept refuses.
	chat := ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"CustomerId": "cust-42"}})
	resp, b := rawRequest(t, "PUT", ts.URL+"/agent/v1/status", as(grace), `{"Status":"AWAY"}`)
	equal(t, "set away", resp.StatusCode, 200)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/me", as(grace), "")
	if !strings.Contains(string(b), `"AWAY"`) {
		t.Errorf("me: %s", b)
	}
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/queue", as(grace), "")
	if strings.Contains(string(b), chat.ContactID) || !strings.Contains(string(b), `"Away":true`) {
		t.Errorf("an Away agent's queue: %s", b)
	}
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as(grace), "")
	equal(t, "accept while away", resp.StatusCode, 409)
	resp, _ = rawRequest(t, "PUT", ts.URL+"/agent/v1/status", as(grace), `{"Status":"ASLEEP"}`)
	equal(t, "unknown status", resp.StatusCode, 400)
	rawRequest(t, "PUT", ts.URL+"/agent/v1/status", as(grace), `{"Status":"AVAILABLE"}`)
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as(grace), "")
	equal(t, "accept when available", resp.StatusCode, 200)

	// Canned responses: shared by the instance's agents.
	resp, b = rawRequest(t, "POST", ts.URL+"/agent/v1/canned", as(grace), `{"Shortcut":"thanks","Text":"Thank you for waiting."}`)
	equal(t, "add canned", resp.StatusCode, 201)
	var added struct{ Id string }
	jsonUnmarshal(t, b, &added)
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/canned", as(alan), `{"Shortcut":"thanks","Text":"again"}`)
	equal(t, "a taken shortcut", resp.StatusCode, 409)
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/canned", as(alan), `{"Shortcut":"Not OK!","Text":"x"}`)
	equal(t, "a bad shortcut", resp.StatusCode, 400)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/canned", as(alan), "")
	if !strings.Contains(string(b), "Thank you for waiting.") {
		t.Errorf("another agent's list: %s", b)
	}
	resp, _ = rawRequest(t, "DELETE", ts.URL+"/agent/v1/canned/"+added.Id, as(alan), "")
	equal(t, "remove canned", resp.StatusCode, 204)
	resp, _ = rawRequest(t, "DELETE", ts.URL+"/agent/v1/canned/"+added.Id, as(alan), "")
	equal(t, "remove it again", resp.StatusCode, 404)

	// Past chats of customer 42: one ended earlier (with a message); one of
	// another customer; one whose browser claims to be 42.
	earlier := ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"CustomerId": "cust-42"},
		InitialMessage: &ctypes.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("My parcel is lost")}})
	ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"CustomerId": "cust-7"}})
	rawRequest(t, "POST", ts.URL+"/widget/v1/chats", nil, `{"DisplayName":"Mallory","Attributes":{"CustomerId":"cust-42"}}`)
	resp, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/past", as(grace), "")
	equal(t, "past status", resp.StatusCode, 200)
	var past struct {
		Chats []struct{ ContactId, Preview string }
	}
	jsonUnmarshal(t, b, &past)
	if len(past.Chats) != 1 || past.Chats[0].ContactId != earlier.ContactID || past.Chats[0].Preview != "My parcel is lost" {
		t.Fatalf("past chats: %s", b)
	}
	resp, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/past/"+earlier.ContactID+"/transcript", as(grace), "")
	equal(t, "past transcript", resp.StatusCode, 200)
	if !strings.Contains(string(b), "My parcel is lost") {
		t.Errorf("past transcript: %s", b)
	}
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/past", as(alan), "")
	equal(t, "another agent's past chats", resp.StatusCode, 403)

	// A persistent chat lists the chats it continues, with no CustomerId.
	first := ts.startChat(t, &connect.StartChatContactInput{
		InitialMessage: &ctypes.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("First visit")}})
	if _, err := ts.connectClient().StopContact(context.Background(), &connect.StopContactInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(first.ContactID)}); err != nil {
		t.Fatal(err)
	}
	again := ts.startChat(t, persistent(ctypes.RehydrationTypeEntirePastSession, first.ContactID))
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+again.ContactID+"/accept", as(alan), "")
	equal(t, "accept the persistent chat", resp.StatusCode, 200)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+again.ContactID+"/past", as(alan), "")
	var chain struct {
		Chats []struct{ ContactId, Preview string }
	}
	jsonUnmarshal(t, b, &chain)
	if len(chain.Chats) != 1 || chain.Chats[0].ContactId != first.ContactID || chain.Chats[0].Preview != "First visit" {
		t.Errorf("a persistent chat's past chats: %s", b)
	}

	// Search: the agent's own chats only.
	resp, b = rawRequest(t, "GET", ts.URL+"/agent/v1/search?q=parcel", as(grace), "")
	equal(t, "search status", resp.StatusCode, 200)
	if strings.Contains(string(b), "parcel") {
		t.Errorf("the search found a chat Grace was never in: %s", b)
	}
	agentToken := ts.agentConnection(t, grace, chat.ContactID)
	rawRequest(t, "POST", ts.URL+"/participant/message", map[string]string{"X-Amz-Bearer": agentToken, "Content-Type": "application/json"},
		`{"ContentType":"text/plain","Content":"Your refund is on its way"}`)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/search?q=REFUND", as(grace), "")
	if !strings.Contains(string(b), "Your refund is on its way") || !strings.Contains(string(b), chat.ContactID) {
		t.Errorf("search: %s", b)
	}
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/search?q=refund", as(alan), "")
	if strings.Contains(string(b), "refund is") {
		t.Errorf("another agent finds Grace's chat: %s", b)
	}
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/search?q=x", as(grace), "")
	equal(t, "too short a search", resp.StatusCode, 400)
}

// agentConnection opens a connection for a console agent's chat and
// returns its ConnectionToken.
func (ts *testServer) agentConnection(t *testing.T, key, contactID string) string {
	t.Helper()
	resp, b := rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+contactID+"/connection", map[string]string{"Authorization": "Bearer " + key}, "")
	equal(t, "agent connection", resp.StatusCode, 200)
	var conn struct {
		ConnectionCredentials struct{ ConnectionToken string }
	}
	jsonUnmarshal(t, b, &conn)
	return conn.ConnectionCredentials.ConnectionToken
}
