package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/store"
)

// FuzzReplyTo: whatever a client sends, the socket answers with one of the
// three replies ChatJS knows or with nothing, and only aws/subscribe
// subscribes.
func FuzzReplyTo(f *testing.F) {
	for _, s := range []string{
		`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`, `{"topic":"aws/heartbeat"}`, `{"topic":"aws/ping"}`,
		`{"topic":"aws/chat","content":"x"}`, `{"topic":1}`, `[]`, `null`, `{"topic":"aws/subscribe"`, "", "\xff",
		`{"topic":"aws/ping","topic":"aws/subscribe"}`, `{"Topic":"AWS/PING"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reply, subscribe := replyTo(data, false)
		var in struct{ Topic string }
		parsed := json.Unmarshal(data, &in) == nil
		switch {
		case reply == nil:
			if subscribe {
				t.Fatal("subscribed without a reply")
			}
			if parsed && (in.Topic == "aws/subscribe" || in.Topic == "aws/heartbeat" || in.Topic == "aws/ping") {
				t.Fatalf("no reply to %q", data)
			}
		case bytes.Equal(reply, subscribed):
			if !subscribe || !parsed || in.Topic != "aws/subscribe" {
				t.Fatalf("a subscription answered %q", data)
			}
		case bytes.Equal(reply, heartbeat), bytes.Equal(reply, pong):
			if subscribe {
				t.Fatalf("%q subscribed", data)
			}
		default:
			t.Fatalf("reply %q to %q", reply, data)
		}
	})
}

// FuzzEncodeItem: every item becomes an aws/chat frame that is JSON, whose
// content is a JSON string holding the item, with each field intact (as
// valid UTF-8) — what ChatJS parses twice.
func FuzzEncodeItem(f *testing.F) {
	f.Add("id-1", "MESSAGE", "text/plain", "Hello", "Ada", "att-1", "a.pdf", "contact-1")
	f.Add("", "EVENT", "application/vnd.amazonaws.connect.event.typing", "", "", "", "", "")
	f.Add("\xff\xfe", "MESSAGE", "text/markdown", "\"}\\u0000</script>\u2028", "\x00", "x", "invoice\u202efdp.txt", "\n")
	f.Fuzz(func(t *testing.T, id, typ, contentType, content, name, attID, attName, initial string) {
		it := store.Item{ID: id, Type: typ, ContentType: contentType, Content: content, DisplayName: name, ContactID: "c"}
		if attID != "" {
			it.Attachments = []store.Attachment{{ID: attID, Name: attName, ContentType: "application/pdf", Status: "APPROVED"}}
		}
		b, err := EncodeItem(it, initial)
		if err != nil {
			t.Fatal(err)
		}
		var env envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("frame %q is not JSON: %v", b, err)
		}
		if env.Topic != "aws/chat" || env.ContentType != "application/json" {
			t.Fatalf("envelope %+v", env)
		}
		var w chatwire.Item
		if err := json.Unmarshal([]byte(env.Content), &w); err != nil {
			t.Fatalf("content %q is not JSON: %v", env.Content, err)
		}
		valid := func(s string) string { // as encoding/json does: each invalid byte becomes U+FFFD
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		if w.Id != valid(id) || w.Type != valid(typ) || w.Content != valid(content) || w.DisplayName != valid(name) || w.InitialContactId != valid(initial) {
			t.Fatalf("item %+v from %+v", w, it)
		}
		if attID != "" && (len(w.Attachments) != 1 || w.Attachments[0].AttachmentId != valid(attID) || w.Attachments[0].AttachmentName != valid(attName)) {
			t.Fatalf("attachments %+v", w.Attachments)
		}
	})
}
