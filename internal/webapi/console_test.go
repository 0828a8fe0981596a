package webapi

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/store"
)

// TestQueueSignal: the consoles wake for what can change the queue, and not
// for the chatter of chats an agent answers.
func TestQueueSignal(t *testing.T) {
	q := NewQueueSignal()
	woke := func(items ...store.Item) bool {
		ch := q.changed()
		q.Notify(items)
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	msg := func(contact, role string) store.Item {
		return store.Item{ContactID: contact, Type: chat.TypeMessage, Role: role}
	}
	event := func(contact, contentType, role string) store.Item {
		return store.Item{ContactID: contact, Type: chat.TypeEvent, ContentType: contentType, Role: role}
	}
	for _, c := range []struct {
		name  string
		items []store.Item
		wake  bool
	}{
		{"a chat starts", []store.Item{event("c1", chat.EventParticipantJoined, chat.RoleCustomer)}, true},
		{"a waiting customer writes", []store.Item{msg("c1", chat.RoleCustomer)}, true},
		{"typing", []store.Item{event("c1", chat.EventTyping, chat.RoleCustomer)}, false},
		{"an agent joins", []store.Item{event("c1", chat.EventParticipantJoined, chat.RoleAgent)}, true},
		{"the customer of an answered chat writes", []store.Item{msg("c1", chat.RoleCustomer)}, false},
		{"the agent writes", []store.Item{msg("c2", chat.RoleAgent)}, false},
		{"the chat ends", []store.Item{event("c1", chat.EventChatEnded, chat.RoleSystem)}, true},
		{"nothing", nil, false},
	} {
		if got := woke(c.items...); got != c.wake {
			t.Errorf("%s: woke %v, want %v", c.name, got, c.wake)
		}
	}
	if len(q.answered) != 0 {
		t.Errorf("an ended chat is still remembered: %v", q.answered)
	}
}

// TestQueueSignalForgetsChatsEndedElsewhere: in a cluster a chat answered
// through this node may end on another, whose commit this node's Notify
// never sees: what it remembers of answered chats stays bounded however
// many that is.
func TestQueueSignalForgetsChatsEndedElsewhere(t *testing.T) {
	q := NewQueueSignal()
	for i := range maxAnswered + 100 {
		q.Notify([]store.Item{{ContactID: fmt.Sprint("c", i), Type: chat.TypeEvent, ContentType: chat.EventParticipantJoined, Role: chat.RoleAgent}})
	}
	if n := len(q.answered); n > maxAnswered {
		t.Errorf("%d answered chats remembered, none of which ended here; want at most %d", n, maxAnswered)
	}
}

// TestSampleRequestCheck: the sample widgets' request is checked as
// StartChatContact checks it.
func TestSampleRequestCheck(t *testing.T) {
	name := func(n string) *struct{ DisplayName string } { return &struct{ DisplayName string }{n} }
	for _, c := range []struct {
		name string
		in   sampleIn
		ok   bool
	}{
		{"minimal", sampleIn{ParticipantDetails: name("Ada")}, true},
		{"our instance", sampleIn{InstanceId: "me", ParticipantDetails: name("Ada")}, true},
		{"ConnectInstanceId", sampleIn{ConnectInstanceId: "me", ParticipantDetails: name("Ada")}, true},
		{"another instance", sampleIn{ConnectInstanceId: "you", ParticipantDetails: name("Ada")}, false},
		{"no details", sampleIn{}, false},
		{"blank name", sampleIn{ParticipantDetails: name("  ")}, false},
		{"duration", sampleIn{ParticipantDetails: name("Ada"), ChatDurationInMinutes: 59}, false},
		{"content type", sampleIn{ParticipantDetails: name("Ada"), SupportedMessagingContentTypes: []string{"text/html"}}, false},
		{"persistent", sampleIn{ParticipantDetails: name("Ada"), PersistentChat: &struct{ SourceContactId, RehydrationType string }{"c", "ENTIRE_PAST_SESSION"}}, false},
		{"empty initial message", sampleIn{ParticipantDetails: name("Ada"), InitialMessage: &struct{ ContentType, Content string }{"text/plain", ""}}, false},
	} {
		if msg := c.in.check("me"); (msg == "") != c.ok {
			t.Errorf("%s: %q", c.name, msg)
		}
	}
}

// TestMyChatsSayWhichAreMonitored: a chat the agent monitors comes back from
// GET /agent/v1/chats (a reload, another tab) as monitored, with its
// capabilities, so that the console offers "Barge in", not a transfer and a
// composer a silent monitor cannot use.
func TestMyChatsSayWhichAreMonitored(t *testing.T) {
	f := newFixture(t, Config{})
	grace, sam := f.agentKey(t, "Grace"), f.agentKey(t, "Sam")
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }
	w := f.start("127.0.0.1:1", nil)
	var started struct{ ContactId string }
	if err := json.Unmarshal(w.Body.Bytes(), &started); err != nil || w.Code != 200 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	id := started.ContactId
	if w := f.do("POST", "/agent/v1/chats/"+id+"/accept", "127.0.0.1:1", as(grace), ""); w.Code != 200 {
		t.Fatalf("accept: %d %s", w.Code, w.Body)
	}
	if w := f.do("POST", "/agent/v1/chats/"+id+"/monitor", "127.0.0.1:1", as(sam), `{"Capabilities":["SILENT_MONITOR","BARGE"]}`); w.Code != 200 {
		t.Fatalf("monitor: %d %s", w.Code, w.Body)
	}
	list := func(key string) map[string]any {
		w := f.do("GET", "/agent/v1/chats", "127.0.0.1:1", as(key), "")
		var out struct{ Chats []map[string]any }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 || len(out.Chats) != 1 {
			t.Fatalf("chats: %d %s", w.Code, w.Body)
		}
		return out.Chats[0]
	}
	if c := list(sam); c["Monitoring"] != true || fmt.Sprint(c["Capabilities"]) != "[SILENT_MONITOR BARGE]" || c["Barged"] != false {
		t.Errorf("Sam's monitored chat reads %v", c)
	}
	if c := list(grace); c["Monitoring"] != nil {
		t.Errorf("Grace's own chat reads %v", c)
	}
	if w := f.do("POST", "/agent/v1/chats/"+id+"/barge", "127.0.0.1:1", as(sam), ""); w.Code != 200 {
		t.Fatalf("barge: %d %s", w.Code, w.Body)
	}
	if c := list(sam); c["Monitoring"] != true || c["Barged"] != true {
		t.Errorf("after the barge, Sam's chat reads %v", c)
	}
}
