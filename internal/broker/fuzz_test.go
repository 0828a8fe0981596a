package broker

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/parleychat/parley/internal/store"
)

func fuzzNATS() *NATS {
	return &NATS{local: NewMemory(), prefix: "parley.chat.", log: slog.New(slog.DiscardHandler)}
}

// FuzzNATSRoundTrip: the items one node publishes reach another node's
// subscribers as they were, in order, in messages within NATS's payload
// bound (one item alone may exceed it).
func FuzzNATSRoundTrip(f *testing.F) {
	f.Add("c1", "c2", "MESSAGE", "text/plain", "Hello", "Ada", "att-1", "a.pdf", uint16(1))
	f.Add("c1", "c1", "EVENT", "application/vnd.amazonaws.connect.event.typing", "", "", "", "", uint16(3))
	f.Add("c1", "c1", "MESSAGE", "text/markdown", "\"}\\u0000\u2028 <b>", "\x00", "", "", uint16(40000))
	f.Fuzz(func(t *testing.T, chat1, chat2, typ, contentType, content, name, attID, attName string, repeat uint16) {
		for _, s := range []string{chat1, chat2, typ, contentType, content, name, attID, attName} {
			if !utf8.ValidString(s) {
				return // the API refuses bodies that are not UTF-8: no stored string is
			}
		}
		if len(content)*int(repeat) > 1<<20 {
			return
		}
		at := time.Date(2026, 11, 30, 1, 2, 3, 456e6, time.UTC)
		var items []store.Item
		for i := range 4 {
			it := store.Item{Seq: int64(i + 1), ID: string(rune('a' + i)), ContactID: chat1, Type: typ, ContentType: contentType,
				Content: content, DisplayName: name, Time: at.Add(time.Duration(i) * time.Millisecond), InTranscript: i%2 == 0}
			if i == 1 {
				it.ContactID = chat2
				it.Content = strings.Repeat(content, int(repeat))
			}
			if i == 2 && attID != "" {
				it.Attachments = []store.Attachment{{ID: attID, Name: attName, ContentType: "application/pdf", Status: "APPROVED"}}
			}
			if i == 3 {
				it.Receipts = []store.Receipt{{MessageID: "a", ContactID: chat1, RecipientID: name, Read: at}}
				it.MessageID = "a"
			}
			items = append(items, it)
		}
		msgs, err := encodeMessages(items)
		if err != nil {
			t.Fatal(err)
		}
		n := fuzzNATS()
		subs := map[string]*Subscription{}
		for _, it := range items {
			if subs[it.ContactID] == nil {
				subs[it.ContactID] = n.local.Subscribe(it.ContactID, 100)
			}
		}
		for _, m := range msgs {
			if len(m.data) > maxNATSPayload && strings.Count(string(m.data), `{"Seq":`) > 1 {
				t.Fatalf("a message of %d bytes holds several items", len(m.data))
			}
			n.receive(&nats.Msg{Subject: n.prefix + m.contactID, Data: m.data})
		}
		for id, s := range subs {
			var want []store.Item
			for _, it := range items {
				if it.ContactID == id {
					want = append(want, it)
				}
			}
			if got := s.Take(); !reflect.DeepEqual(got, want) {
				t.Fatalf("chat %q received %+v, want %+v", id, got, want)
			}
		}
	})
}

// FuzzNATSReceive: whatever arrives on a chat's subject (another
// version's node, a stray publisher) reaches only that chat's
// subscribers, and anything that is not Parley's items reaches none.
func FuzzNATSReceive(f *testing.F) {
	for _, s := range []string{
		`[{"Seq":1,"ID":"a","ContactID":"c1","Type":"MESSAGE","Content":"hi","Time":"2026-11-30T01:02:03.456Z","InTranscript":true}]`,
		`[{"Seq":2,"ID":"b","ContactID":"c2","Type":"MESSAGE","Content":"not yours"}]`,
		`[{"ContactID":"c1"},{"ContactID":"c2"}]`, `[]`, `null`, `{}`, `[1]`, `not json`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := fuzzNATS()
		mine, other := n.local.Subscribe("c1", 1000), n.local.Subscribe("c2", 1000)
		n.receive(&nats.Msg{Subject: n.prefix + "c1", Data: data})
		if got := other.Take(); len(got) > 0 {
			t.Fatalf("a message on c1's subject delivered %+v to c2", got)
		}
		for _, it := range mine.Take() {
			if it.ContactID != "c1" {
				t.Fatalf("c1's subscriber got %+v", it)
			}
		}
	})
}
