package parley

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/gateway"
	"github.com/parleychat/parley/internal/store"
)

// FuzzDecodeFrame: no websocket frame panics the decoder, and whatever
// chat item a frame carries classifies into an event and has a
// de-duplication key.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`,
		`{"topic":"aws/chat","contentType":"application/json","content":"{\"Id\":\"1\",\"Type\":\"MESSAGE\",\"Content\":\"hi\"}"}`,
		`{"topic":"aws/chat","content":"{\"Type\":\"ATTACHMENT\",\"Attachments\":[]}"}`,
		`{"topic":"aws/chat","content":"{\"Type\":\"MESSAGEMETADATA\",\"MessageMetadata\":{\"Receipts\":[{\"ReadTimestamp\":\"x\"}]}}"}`,
		`{"topic":"aws/chat","content":{"Id":1}}`, `{"topic":"aws/chat","content":"not json"}`, `{"topic":"aws/heartbeat"}`,
		`null`, `[]`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		it, ok := fr.chatItem()
		if !ok {
			return
		}
		if fr.Topic != "aws/chat" {
			t.Fatalf("a %q frame gave an item", fr.Topic)
		}
		if classify(it) == nil {
			t.Fatal("no event")
		}
		dedupKey(it)
		inTranscript(it)
	})
}

// FuzzFrameRoundTrip: an item the server encodes (the gateway's encoder)
// decodes to the same item, as valid UTF-8.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add("id-1", "MESSAGE", "text/plain", "Hello", "Ada", "att-1", "a.pdf", "APPROVED")
	f.Add("", "EVENT", EventTyping, "", "", "", "", "")
	f.Add("\xff", "ATTACHMENT", "", "\"}\\u0000\u2028", "\x00", "x", "invoice\u202efdp.txt", "REJECTED")
	f.Fuzz(func(t *testing.T, id, typ, contentType, content, name, attID, attName, status string) {
		in := store.Item{ID: id, Type: typ, ContentType: contentType, Content: content, DisplayName: name, ContactID: "c",
			Time: time.Date(2026, 11, 29, 12, 0, 0, 123e6, time.UTC)}
		if attID != "" {
			in.Attachments = []store.Attachment{{ID: attID, Name: attName, ContentType: "application/pdf", Status: status}}
		}
		b, err := gateway.EncodeItem(in, "")
		if err != nil {
			t.Fatal(err)
		}
		fr, err := decodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		it, ok := fr.chatItem()
		if !ok {
			t.Fatalf("frame %s carried no item", b)
		}
		v := func(s string) string { // each invalid byte becomes U+FFFD on the wire
			var b strings.Builder
			for _, r := range s {
				b.WriteRune(r)
			}
			return b.String()
		}
		wantType := v(contentType)
		if attID != "" {
			wantType = "" // attachment items have no top-level content type, as on Connect
		}
		if it.ID != v(id) || it.Type != v(typ) || it.ContentType != wantType || it.Content != v(content) ||
			it.DisplayName != v(name) || !it.Time.Equal(in.Time) {
			t.Fatalf("decoded %+v from %+v", it, in)
		}
		if attID != "" && (len(it.Attachments) != 1 || it.Attachments[0].ID != v(attID) || it.Attachments[0].Name != v(attName) ||
			it.Attachments[0].Status != v(status)) {
			t.Fatalf("attachments %+v", it.Attachments)
		}
	})
}

// FuzzDecodeError: any failed answer becomes a typed error whose code is
// a bare exception name, reachable as *APIError.
func FuzzDecodeError(f *testing.F) {
	f.Add(403, "AccessDeniedException", []byte(`{"Message":"no"}`))
	f.Add(400, "", []byte(`{"__type":"com.amazonaws.connect#ValidationException","message":"bad"}`))
	f.Add(429, "ThrottlingException:http://internal.amazon.com/", []byte(`{}`))
	f.Add(500, "", []byte(`not json`))
	f.Add(599, "", []byte(`{"code":7,"Message":null}`))
	f.Fuzz(func(t *testing.T, status int, errType string, body []byte) {
		h := http.Header{}
		h.Set("X-Amzn-ErrorType", errType)
		err := decodeError(status, h, body)
		var e *APIError
		if !errors.As(err, &e) {
			t.Fatalf("%T is not an *APIError", err)
		}
		if strings.ContainsAny(e.Code, ":#") || e.StatusCode != status {
			t.Fatalf("error %+v", e)
		}
		_ = err.Error()
	})
}
