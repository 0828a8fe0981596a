package webapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
)

// refSampleOK is StartChatContact's model, in its own terms (lengths in
// characters, as the Connect API's checks count them), for what the
// sample endpoint takes.
func refSampleOK(in sampleIn, instanceID string) bool {
	id := in.InstanceId
	if id == "" {
		id = in.ConnectInstanceId
	}
	if id != "" && id != instanceID || in.ParticipantDetails == nil {
		return false
	}
	name := in.ParticipantDetails.DisplayName
	if utf8.RuneCountInString(strings.TrimSpace(name)) < 1 || utf8.RuneCountInString(name) > 256 {
		return false
	}
	if len(in.Attributes) > 50 || sizeOf(in.Attributes) > 32768 {
		return false
	}
	if d := in.ChatDurationInMinutes; d != 0 && (d < chat.MinDurationMins || d > chat.MaxDurationMins) {
		return false
	}
	if in.PersistentChat != nil && in.PersistentChat.SourceContactId != "" {
		return false
	}
	if m := in.InitialMessage; m != nil {
		if n := utf8.RuneCountInString(m.Content); m.ContentType == "" || n < 1 || n > 16384 {
			return false
		}
	}
	for _, t := range in.SupportedMessagingContentTypes {
		if !slices.Contains(chat.ChatContentTypes, t) {
			return false
		}
	}
	return true
}

// FuzzSampleRequest: the body Amazon's sample widgets send to the
// start-chat-contact endpoint, decoded as the endpoint decodes it, is
// taken exactly when StartChatContact's model takes it, and a refusal
// says why.
func FuzzSampleRequest(f *testing.F) {
	for _, s := range []string{
		`{"InstanceId":"me","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Ada"},"Attributes":{"customerName":"Ada"},"SupportedMessagingContentTypes":["text/plain","text/markdown"]}`,
		`{"ConnectInstanceId":"you","ParticipantDetails":{"DisplayName":"Ada"}}`,
		`{"ParticipantDetails":{"DisplayName":"  "}}`, `{}`, `null`,
		`{"ParticipantDetails":{"DisplayName":"Ada"},"ChatDurationInMinutes":59}`,
		`{"ParticipantDetails":{"DisplayName":"Ada"},"PersistentChat":{"SourceContactId":"c","RehydrationType":"ENTIRE_PAST_SESSION"}}`,
		`{"ParticipantDetails":{"DisplayName":"Ada"},"InitialMessage":{"ContentType":"text/plain","Content":""}}`,
		`{"ParticipantDetails":{"DisplayName":"Ada"},"InitialMessage":{"ContentType":"text/plain","Content":"` + strings.Repeat("é", 9000) + `"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in sampleIn
		if json.Unmarshal(body, &in) != nil {
			return
		}
		msg := in.check("me")
		if want := refSampleOK(in, "me"); (msg == "") != want {
			t.Fatalf("%.300s: check says %q, StartChatContact's model says ok=%v", body, msg, want)
		}
	})
}

// FuzzWidgetStart: whatever body a page posts to start a chat, the
// widget's endpoint answers 200 exactly when the body is JSON with a
// DisplayName of 1 to 256 characters (trimmed) and Attributes within 50
// entries and 32 KB, and a 400 with a Message otherwise; never a 5xx.
func FuzzWidgetStart(f *testing.F) {
	fx := newFixture(f, Config{PerMinute: 1 << 30, MaxQueued: 1 << 30})
	for _, s := range []string{`{"DisplayName":"Ada","Attributes":{"plan":"pro"}}`, `{"DisplayName":"  "}`, `{}`, ``, `null`,
		`{"DisplayName":"` + strings.Repeat("é", 256) + `"}`, `{"DisplayName":"` + strings.Repeat("a", 257) + `"}`,
		`{"DisplayName":"Ada","Attributes":{"a":1}}`, `{"DisplayName":"\u00a0Ada\u2028"}`, "{\"DisplayName\":\"\xff\"}",
		`{"DisplayName":"Ada","Attributes":{"":""}}`, `{"DisplayName":"Ada","Attributes":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := fx.do("POST", "/widget/v1/chats", "198.51.100.1:1000", map[string]string{"Content-Type": "application/json"}, string(body))
		var in startChatIn
		want := http.StatusBadRequest
		if awswire.Unmarshal(body, &in) == nil {
			n := utf8.RuneCountInString(strings.TrimSpace(in.DisplayName))
			if n >= 1 && n <= 256 && len(in.Attributes) <= 50 && sizeOf(in.Attributes) <= 32768 {
				want = http.StatusOK
			}
		}
		var out map[string]string
		if w.Code != want || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			t.Fatalf("%.300q: %d %s, want %d", body, w.Code, w.Body, want)
		}
		if want == http.StatusOK && (out["ContactId"] == "" || out["ParticipantToken"] == "") || want != http.StatusOK && out["Message"] == "" {
			t.Fatalf("%.300q: %d %s", body, w.Code, w.Body)
		}
	})
}
