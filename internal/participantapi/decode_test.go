package participantapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
)

// checkDecodeError asserts what every decoder promises about bad input: a
// 400 ValidationException with a message.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var e *awswire.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Type != "ValidationException" || e.Message == "" {
		t.Fatalf("decode error %#v is not a 400 ValidationException", err)
	}
}

func inRange(s *string, min, max int) bool {
	return s != nil && utf8.RuneCountInString(*s) >= min && utf8.RuneCountInString(*s) <= max
}

func TestDecodeSendMessage(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"ContentType":"text/plain","Content":"hi"}`, true},
		{`{"ContentType":"text/plain","Content":"hi","ClientToken":"` + strings.Repeat("c", 500) + `"}`, true},
		{`{"ContentType":"text/plain","Content":"hi","ClientToken":"` + strings.Repeat("c", 501) + `"}`, false},
		{`{"ContentType":"text/plain"}`, false},
		{`{"Content":"hi"}`, false},
		{`{"ContentType":"text/plain","Content":""}`, false},
		{`{"ContentType":"text/plain","Content":"` + strings.Repeat("é", 16384) + `"}`, true},
		{`{"ContentType":"text/plain","Content":"` + strings.Repeat("é", 16385) + `"}`, false},
		{`{"ContentType":7,"Content":"hi"}`, false},
		{`{"ContentType":"text/plain","Content":"hi"`, false},
		{``, false},
		{`[]`, false},
	}
	for _, tt := range tests {
		_, err := decodeSendMessage([]byte(tt.body))
		if tt.ok && err != nil {
			t.Errorf("%.60s: %v", tt.body, err)
		}
		if !tt.ok {
			if err == nil {
				t.Errorf("%.60s: accepted", tt.body)
				continue
			}
			checkDecodeError(t, err)
		}
	}
}

func TestDecodeTranscript(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{}`, true},
		{`{"StartPosition":{}}`, true},
		{`{"StartPosition":{"Id":"x"},"ScanDirection":"FORWARD","SortOrder":"ASCENDING","MaxResults":100}`, true},
		{`{"StartPosition":{"AbsoluteTime":"2019-11-08T02:41:28.172Z"}}`, true},
		{`{"StartPosition":{"AbsoluteTime":"2019-11-08T02:41:28Z"}}`, true},
		{`{"StartPosition":{"AbsoluteTime":"last tuesday"}}`, false},
		{`{"StartPosition":{"Id":"x","MostRecent":2}}`, false},
		{`{"StartPosition":{"MostRecent":101}}`, false},
		{`{"MaxResults":-1}`, false},
		{`{"ScanDirection":"SIDEWAYS"}`, false},
		{`{"SortOrder":"RANDOM"}`, false},
		{`{"NextToken":""}`, false},
		{`{"ContactId":""}`, false},
	}
	for _, tt := range tests {
		in, err := decodeTranscript([]byte(tt.body))
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.body, err)
		}
		if !tt.ok {
			if err == nil {
				t.Errorf("%s: accepted", tt.body)
				continue
			}
			checkDecodeError(t, err)
		}
		if tt.ok && in.StartPosition != nil && in.StartPosition.AbsoluteTime != nil && in.startTime == nil {
			t.Errorf("%s: AbsoluteTime not parsed", tt.body)
		}
	}
}

// fuzzDecoder runs decode on arbitrary bodies: it must never panic, must
// report bad input only as a ValidationException, and what it accepts must
// hold to the model's constraints, which valid checks.
func fuzzDecoder[T any](f *testing.F, seeds []string, decode func([]byte) (T, error), valid func(T) bool) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decode(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if !valid(in) {
			t.Fatalf("accepted an input that breaks the model: %q → %+v", body, in)
		}
	})
}

func FuzzDecodeConnection(f *testing.F) {
	fuzzDecoder(f, []string{`{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"]}`, `{"ConnectParticipant":true}`, `{"Type":[]}`},
		decodeConnection, func(in connectionInput) bool {
			return (len(in.Type) > 0 || (in.ConnectParticipant != nil && *in.ConnectParticipant)) && (in.Type == nil || len(in.Type) > 0)
		})
}

func FuzzDecodeSendMessage(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"text/plain","Content":"hi","ClientToken":"t"}`, `{"Content":"\u00e9"}`},
		decodeSendMessage, func(in sendMessageInput) bool {
			return inRange(in.ContentType, 1, 100) && inRange(in.Content, 1, 16384) && (in.ClientToken == nil || inRange(in.ClientToken, 0, 500))
		})
}

func FuzzDecodeSendEvent(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`, `{"ContentType":"x","Content":"{\"messageId\":\"m\"}"}`},
		decodeSendEvent, func(in sendEventInput) bool {
			return inRange(in.ContentType, 1, 100) && (in.Content == nil || inRange(in.Content, 1, 16384))
		})
}

func FuzzDecodeTranscript(f *testing.F) {
	fuzzDecoder(f, []string{`{"MaxResults":15,"ScanDirection":"BACKWARD","SortOrder":"ASCENDING","StartPosition":{}}`,
		`{"StartPosition":{"AbsoluteTime":"2019-11-08T02:41:28.172Z"},"NextToken":"abc"}`, `{"StartPosition":{"MostRecent":3}}`},
		decodeTranscript, func(in transcriptInput) bool {
			if in.MaxResults != nil && (*in.MaxResults < 0 || *in.MaxResults > 100) {
				return false
			}
			if sp := in.StartPosition; sp != nil {
				n := 0
				for _, set := range []bool{sp.Id != nil, sp.AbsoluteTime != nil, sp.MostRecent != nil} {
					if set {
						n++
					}
				}
				if n > 1 || (sp.AbsoluteTime != nil && in.startTime == nil) {
					return false
				}
			}
			return in.ScanDirection == nil || *in.ScanDirection == "FORWARD" || *in.ScanDirection == "BACKWARD"
		})
}

func FuzzDecodeDisconnect(f *testing.F) {
	fuzzDecoder(f, []string{`{"ClientToken":"x"}`, `{}`}, decodeDisconnect, func(in disconnectInput) bool {
		return in.ClientToken == nil || inRange(in.ClientToken, 0, 500)
	})
}

func FuzzDecodeStartUpload(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"image/png","AttachmentSizeInBytes":10,"AttachmentName":"a.png","ClientToken":"c"}`},
		decodeStartUpload, func(in startUploadInput) bool {
			return inRange(in.ContentType, 1, 255) && in.AttachmentSizeInBytes != nil && *in.AttachmentSizeInBytes >= 1 &&
				inRange(in.AttachmentName, 1, 256) && inRange(in.ClientToken, 1, 500)
		})
}

func FuzzDecodeCompleteUpload(f *testing.F) {
	fuzzDecoder(f, []string{`{"AttachmentIds":["a"],"ClientToken":"c"}`, `{"AttachmentIds":["a","b"]}`},
		decodeCompleteUpload, func(in completeUploadInput) bool {
			return len(in.AttachmentIds) == 1 && inRange(&in.AttachmentIds[0], 1, 256) && inRange(in.ClientToken, 1, 500)
		})
}

func FuzzDecodeGetAttachment(f *testing.F) {
	fuzzDecoder(f, []string{`{"AttachmentId":"a","UrlExpiryInSeconds":60}`}, decodeGetAttachment, func(in getAttachmentInput) bool {
		return inRange(in.AttachmentId, 1, 256) && (in.UrlExpiryInSeconds == nil || (*in.UrlExpiryInSeconds >= 5 && *in.UrlExpiryInSeconds <= 300))
	})
}

func FuzzDecodeAuthURL(f *testing.F) {
	fuzzDecoder(f, []string{`{"SessionId":"0123456789abcdef0123456789abcdef0123","RedirectUri":"https://x"}`}, decodeAuthURL, func(in authURLInput) bool {
		return inRange(in.SessionId, 36, 36) && inRange(in.RedirectUri, 1, 1024)
	})
}

func FuzzDecodeCancelAuth(f *testing.F) {
	fuzzDecoder(f, []string{`{"SessionId":"0123456789abcdef0123456789abcdef0123"}`}, decodeCancelAuth, func(in cancelAuthInput) bool {
		return inRange(in.SessionId, 36, 36)
	})
}

// FuzzMessageFields holds SendMessage's and SendEvent's fast decoder to
// encoding/json: whatever it accepts, json.Unmarshal decodes without error
// to the same members.
func FuzzMessageFields(f *testing.F) {
	for _, s := range []string{`{"ContentType":"text/plain","Content":"hi","ClientToken":"t"}`, ` { "Content" : "é" , "Content":"b"} `,
		`{}`, `{"Content":"a\"b"}`, `{"content":"x"}`, `{"Content":null}`, `{"Content":"x"} x`, `{"Content":"x",}`, "{\"Content\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast sendMessageInput
		if !messageFields(body, &fast.ContentType, &fast.Content, &fast.ClientToken) {
			return
		}
		var slow sendMessageInput
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("%q: accepted, json.Unmarshal: %v", body, err)
		}
		for _, m := range []struct {
			name       string
			fast, slow *string
		}{{"ContentType", fast.ContentType, slow.ContentType}, {"Content", fast.Content, slow.Content}, {"ClientToken", fast.ClientToken, slow.ClientToken}} {
			if (m.fast == nil) != (m.slow == nil) || (m.fast != nil && *m.fast != *m.slow) {
				t.Fatalf("%q: %s is %v, json.Unmarshal has %v", body, m.name, m.fast, m.slow)
			}
		}
	})
}

// TestMessageFieldsTakesWhatClientsSend: the fast path serves what the
// SDKs and ChatJS send, and leaves the rest to encoding/json.
func TestMessageFieldsTakesWhatClientsSend(t *testing.T) {
	for body, fast := range map[string]bool{
		`{"ContentType":"text/plain","Content":"Hello, my order is late","ClientToken":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`:      true,
		`{"ClientToken":"t","Content":"{\"messageId\":\"m\"}","ContentType":"application/vnd.amazonaws.connect.event.message.read"}`: false, // an escape
		`{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`:                                                           true,
		`{"ContentType":"text/plain","Content":"héllo"}`:                                                                             true,
		`{"contentType":"text/plain","Content":"hi"}`:                                                                                false,
	} {
		var in sendMessageInput
		if got := messageFields([]byte(body), &in.ContentType, &in.Content, &in.ClientToken); got != fast {
			t.Errorf("%s: fast path %v, want %v", body, got, fast)
		}
		if _, err := decodeSendEvent([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func BenchmarkDecodeSendMessage(b *testing.B) {
	body := []byte(`{"ContentType":"text/plain","Content":"Hello, my order is late","ClientToken":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}`)
	b.ReportAllocs()
	for b.Loop() {
		decodeSendMessage(body)
	}
}
