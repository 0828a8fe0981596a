package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// startConversation starts a chat with an agent and one ChatJS peer for each,
// both connected.
func startConversation(t *testing.T, ts *testServer) (chat chatDetails, customer, agent *peer) {
	t.Helper()
	chat = ts.startChat(t, nil)
	agentDetails := ts.addAgent(t, chat.ContactID)
	customer = newPeer(t, "customer", ts.URL, chat)
	agent = newPeer(t, "agent", ts.URL, agentDetails)
	for _, p := range []*peer{customer, agent} {
		p.mustCall("connect", nil)
		// ChatJS fires onConnectionEstablished twice per connect (its issue
		// #298): for the call, with no data, then for the socket.
		p.waitFor("onConnectionEstablished for the socket", 10*time.Second, func(ev peerEvent) bool {
			return ev.Event == "onConnectionEstablished" && ev.Data != nil
		})
	}
	return chat, customer, agent
}

func TestChatJSConversation(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	chat, customer, agent := startConversation(t, ts)

	// A message reaches the other side, and the sender's own socket too.
	res := customer.mustCall("sendMessage", map[string]string{"contentType": "text/plain", "message": "Hi, my parcel is late"})
	var sent struct {
		Data struct{ Id, AbsoluteTime string }
	}
	json.Unmarshal(res, &sent)
	if sent.Data.Id == "" {
		t.Fatalf("sendMessage result %s", res)
	}
	for _, p := range []*peer{agent, customer} {
		ev := p.waitFor("the customer's message", 5*time.Second, isItem("MESSAGE", "Id", sent.Data.Id))
		if str(ev.Data, "Content") != "Hi, my parcel is late" || str(ev.Data, "ParticipantRole") != "CUSTOMER" ||
			str(ev.Data, "ContactId") != chat.ContactID || str(ev.Data, "InitialContactId") != chat.ContactID {
			t.Errorf("%s got %v", p.name, ev.Data)
		}
	}
	reply := agent.mustCall("sendMessage", map[string]string{"contentType": "text/plain", "message": "Let me check that for you"})
	var replied struct{ Data struct{ Id string } }
	json.Unmarshal(reply, &replied)
	customer.waitFor("the agent's reply", 5*time.Second, isItem("MESSAGE", "Id", replied.Data.Id))

	// Typing.
	agent.mustCall("sendEvent", map[string]string{"contentType": "application/vnd.amazonaws.connect.event.typing"})
	ev := customer.waitFor("onTyping", 5*time.Second, isEvent("onTyping"))
	equal(t, "typing participant", str(ev.Data, "ParticipantRole"), "AGENT")

	// Receipts: the customer reads the agent's reply.
	for _, kind := range []string{"delivered", "read"} {
		customer.mustCall("sendEvent", map[string]string{
			"contentType": "application/vnd.amazonaws.connect.event.message." + kind,
			"content":     fmt.Sprintf(`{"messageId":%q}`, replied.Data.Id),
		})
		hook := map[string]string{"delivered": "onDeliveredReceipt", "read": "onReadReceipt"}[kind]
		ev := agent.waitFor(hook, 10*time.Second, isEvent(hook))
		md, _ := ev.Data["MessageMetadata"].(map[string]any)
		if md == nil || md["MessageId"] != replied.Data.Id {
			t.Errorf("%s data %v", hook, ev.Data)
		}
	}
}

func TestChatJSDisconnectEndsChatForBoth(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	_, customer, agent := startConversation(t, ts)
	// ChatJS's disconnectParticipant resolves only after the server pushes chat.ended.
	customer.mustCall("disconnect", nil)
	for _, p := range []*peer{customer, agent} {
		p.waitFor("onEnded", 10*time.Second, isEvent("onEnded"))
	}
	// After the end, ChatJS itself refuses to send: its session is over.
	if _, err := customer.call("sendMessage", map[string]string{"contentType": "text/plain", "message": "hello?"}); err == nil {
		t.Error("sendMessage after the end succeeded")
	}
}

func TestChatJSStopContactEndsChat(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	chat, customer, agent := startConversation(t, ts)
	if _, err := ts.connectClient().StopContact(t.Context(), stopInput(ts, chat.ContactID)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*peer{customer, agent} {
		p.waitFor("chat.ended item", 10*time.Second, func(ev peerEvent) bool {
			return ev.Event == "onMessage" && strings.HasSuffix(str(ev.Data, "ContentType"), "chat.ended")
		})
		p.waitFor("onEnded", 10*time.Second, isEvent("onEnded"))
	}
}

// TestChatJSIdleHeartbeats: over 30 s of silence ChatJS's heartbeats and
// deep pings are answered, so its connection never drops or reconnects.
func TestChatJSIdleHeartbeats(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	_, customer, _ := startConversation(t, ts)
	evs := customer.drain(31 * time.Second)
	pings := 0
	for _, ev := range evs {
		switch ev.Event {
		case "onConnectionLost", "onConnectionBroken", "onConnectionEstablished", "onDeepHeartbeatFailure":
			t.Errorf("spurious %s during an idle period", ev.Event)
		case "onDeepHeartbeatSuccess":
			pings++
		}
	}
	if pings < 2 {
		t.Errorf("%d deep heartbeats answered in 30 s, want at least 2 (ChatJS pings every 10 s)", pings)
	}
}

// TestChatJSTranscriptPaging: ChatJS's getTranscript pages through a long chat.
func TestChatJSTranscriptPaging(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	chat, customer, _ := startConversation(t, ts)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	var want []string
	for i := range 120 {
		out, err := pc.SendMessage(sendInput(tok, fmt.Sprint("line ", i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, *out.Id)
	}
	var got []string
	args := map[string]any{"maxResults": 15, "scanDirection": "BACKWARD", "sortOrder": "ASCENDING"}
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		res := customer.mustCall("getTranscript", args)
		var page struct {
			Data struct {
				Transcript []map[string]any
				NextToken  string
			}
		}
		json.Unmarshal(res, &page)
		var ids []string
		for _, it := range page.Data.Transcript {
			if it["Type"] == "MESSAGE" {
				ids = append(ids, it["Id"].(string))
			}
		}
		got = append(ids, got...) // pages go back in time, each ascending
		if page.Data.NextToken == "" {
			break
		}
		args["nextToken"] = page.Data.NextToken
	}
	equal(t, "messages paged through", strings.Join(got, ","), strings.Join(want, ","))
}

// TestChatJSReconnectsAfterServerDropsSocket: the server drops the socket
// (a handover restart); ChatJS reconnects by itself, and with the transcript
// it reads on reconnecting (as ChatJS's README tells apps to) misses nothing.
func TestChatJSReconnectsAfterServerDropsSocket(t *testing.T) {
	ts := startServer(t)
	chat, customer, _ := startConversation(t, ts)
	agentTok := ts.connectionToken(t, ts.addAgent(t, chat.ContactID).ParticipantToken)
	pc := ts.participantClient()

	var want []string
	send := func(text string) {
		out, err := pc.SendMessage(sendInput(agentTok, text))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, *out.Id)
	}
	send("before the drop")
	customer.waitFor("first message", 5*time.Second, isItem("MESSAGE", "Id", want[0]))

	ts.handover(t)
	customer.waitFor("onConnectionLost", 10*time.Second, isEvent("onConnectionLost"))
	send("while reconnecting")
	seen := map[string]bool{want[0]: true}
	customer.waitFor("onConnectionEstablished after the drop", 20*time.Second, func(ev peerEvent) bool {
		if ev.Event == "onMessage" {
			seen[str(ev.Data, "Id")] = true
		}
		return ev.Event == "onConnectionEstablished"
	})
	send("after reconnecting")
	customer.waitFor("a message on the new socket", 10*time.Second, func(ev peerEvent) bool {
		if ev.Event == "onMessage" {
			seen[str(ev.Data, "Id")] = true
		}
		return ev.Event == "onMessage" && str(ev.Data, "Id") == want[2]
	})
	res := customer.mustCall("getTranscript", map[string]any{"maxResults": 100, "sortOrder": "ASCENDING"})
	var page struct {
		Data struct{ Transcript []map[string]any }
	}
	json.Unmarshal(res, &page)
	for _, it := range page.Data.Transcript {
		seen[str(it, "Id")] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Errorf("message %s missed across the reconnect", id)
		}
	}
}
