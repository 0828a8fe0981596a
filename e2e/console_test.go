package e2e

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
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

	req, _ = http.NewRequest("GET", ts.URL+"/agent/v1/events", nil)
	resp2, b := send(t, req)
	equal(t, "no key", resp2.StatusCode, 401)
	_ = b
}
