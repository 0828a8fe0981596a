package participantapi

import (
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
)

// Each decodeX turns a request body into a validated input, checking every
// constraint of the model (shared/spec/connectparticipant-2018-09-07.json).
// They are pure, so the fuzz targets call them directly.

type connectionInput struct {
	Type               []string
	ConnectParticipant *bool
}

func decodeConnection(body []byte) (in connectionInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	if in.Type != nil && len(in.Type) == 0 {
		c.Fail("1 validation error detected: Value '[]' at 'type' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	for _, t := range in.Type {
		c.OneOf("type.member", &t, "WEBSOCKET", "CONNECTION_CREDENTIALS", "WEBRTC_CONNECTION")
	}
	if in.Type == nil && !awswire.Deref(in.ConnectParticipant) {
		c.Fail("Type must list WEBSOCKET and/or CONNECTION_CREDENTIALS, or ConnectParticipant must be true.")
	}
	return in, c.Err()
}

type sendMessageInput struct {
	ContentType *string
	Content     *string
	ClientToken *string
}

func decodeSendMessage(body []byte) (in sendMessageInput, err error) {
	if !messageFields(body, &in.ContentType, &in.Content, &in.ClientToken) {
		in = sendMessageInput{}
		if err = awswire.Unmarshal(body, &in); err != nil {
			return in, err
		}
	}
	var c awswire.Checker
	c.Required("contentType", in.ContentType, 1, 100)
	c.Required("content", in.Content, 1, 16384)
	c.Length("clientToken", in.ClientToken, 0, 500)
	return in, c.Err()
}

type sendEventInput struct {
	ContentType *string
	Content     *string
	ClientToken *string
}

func decodeSendEvent(body []byte) (in sendEventInput, err error) {
	if !messageFields(body, &in.ContentType, &in.Content, &in.ClientToken) {
		in = sendEventInput{}
		if err = awswire.Unmarshal(body, &in); err != nil {
			return in, err
		}
	}
	var c awswire.Checker
	c.Required("contentType", in.ContentType, 1, 100)
	c.Length("content", in.Content, 1, 16384)
	c.Length("clientToken", in.ClientToken, 0, 500)
	return in, c.Err()
}

type startPosition struct {
	Id           *string
	AbsoluteTime *string
	MostRecent   *int64
}

type transcriptInput struct {
	ContactId     *string
	MaxResults    *int64
	NextToken     *string
	ScanDirection *string
	SortOrder     *string
	StartPosition *startPosition

	startTime *time.Time // parsed StartPosition.AbsoluteTime
}

func decodeTranscript(body []byte) (in transcriptInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Length("contactId", in.ContactId, 1, 256)
	c.Range("maxResults", in.MaxResults, 0, 100)
	c.Length("nextToken", in.NextToken, 1, 1000)
	c.OneOf("scanDirection", in.ScanDirection, "FORWARD", "BACKWARD")
	c.OneOf("sortOrder", in.SortOrder, "DESCENDING", "ASCENDING")
	if sp := in.StartPosition; sp != nil {
		c.Length("startPosition.id", sp.Id, 1, 256)
		c.Length("startPosition.absoluteTime", sp.AbsoluteTime, 1, 100)
		c.Range("startPosition.mostRecent", sp.MostRecent, 0, 100)
		set := 0
		for _, isSet := range []bool{sp.Id != nil, sp.AbsoluteTime != nil, sp.MostRecent != nil} {
			if isSet {
				set++
			}
		}
		if set > 1 {
			c.Fail("StartPosition takes one of Id, AbsoluteTime or MostRecent.")
		}
		if sp.AbsoluteTime != nil && c.Err() == nil {
			t, perr := time.Parse(time.RFC3339Nano, *sp.AbsoluteTime)
			if perr != nil {
				c.Fail("StartPosition.AbsoluteTime must be an ISO 8601 time such as 2019-11-08T02:41:28.172Z.")
			}
			in.startTime = &t
		}
	}
	return in, c.Err()
}

type disconnectInput struct {
	ClientToken *string
}

func decodeDisconnect(body []byte) (in disconnectInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Length("clientToken", in.ClientToken, 0, 500)
	return in, c.Err()
}

type startUploadInput struct {
	ContentType           *string
	AttachmentSizeInBytes *int64
	AttachmentName        *string
	ClientToken           *string
}

func decodeStartUpload(body []byte) (in startUploadInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Required("contentType", in.ContentType, 1, 255)
	if in.AttachmentSizeInBytes == nil {
		c.Fail("1 validation error detected: Value null at 'attachmentSizeInBytes' failed to satisfy constraint: Member must not be null")
	}
	c.Min("attachmentSizeInBytes", in.AttachmentSizeInBytes, 1)
	c.Required("attachmentName", in.AttachmentName, 1, 256)
	c.Required("clientToken", in.ClientToken, 1, 500)
	return in, c.Err()
}

type completeUploadInput struct {
	AttachmentIds []string
	ClientToken   *string
}

func decodeCompleteUpload(body []byte) (in completeUploadInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	if len(in.AttachmentIds) != 1 {
		c.Fail("1 validation error detected: Value at 'attachmentIds' failed to satisfy constraint: Member must have length between 1 and 1")
	}
	for _, id := range in.AttachmentIds {
		c.Required("attachmentIds.member", &id, 1, 256)
	}
	c.Required("clientToken", in.ClientToken, 1, 500)
	return in, c.Err()
}

type getAttachmentInput struct {
	AttachmentId       *string
	UrlExpiryInSeconds *int64
}

func decodeGetAttachment(body []byte) (in getAttachmentInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Required("attachmentId", in.AttachmentId, 1, 256)
	c.Range("urlExpiryInSeconds", in.UrlExpiryInSeconds, 5, 300)
	return in, c.Err()
}

type authURLInput struct {
	SessionId   *string
	RedirectUri *string
}

func decodeAuthURL(body []byte) (in authURLInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Required("sessionId", in.SessionId, 36, 36)
	c.Required("redirectUri", in.RedirectUri, 1, 1024)
	return in, c.Err()
}

type cancelAuthInput struct {
	SessionId *string
}

func decodeCancelAuth(body []byte) (in cancelAuthInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
	}
	var c awswire.Checker
	c.Required("sessionId", in.SessionId, 36, 36)
	return in, c.Err()
}

// messageFields decodes what every client sends for SendMessage and
// SendEvent, a JSON object whose members are among ContentType, Content and
// ClientToken, spelt so, each a string without escapes, as encoding/json
// would, without its reflection (one allocation for the values, one for
// their pointers, where json.Unmarshal makes about eight). It reports false
// for anything else (another member, another spelling, an escape, a null,
// a number, malformed JSON), which the caller decodes with
// awswire.Unmarshal as before; FuzzMessageFields holds the two to the same
// result.
func messageFields(body []byte, contentType, content, clientToken **string) bool {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipSpace(body, i+1) == len(body)
	}
	type member struct {
		dst      **string
		from, to int
	}
	var found [8]member // duplicates are legal JSON: the last one wins, as in encoding/json
	n := 0
	for {
		ks, ke, ok := plainString(body, i)
		if !ok {
			return false
		}
		var dst **string
		switch string(body[ks:ke]) {
		case "ContentType":
			dst = contentType
		case "Content":
			dst = content
		case "ClientToken":
			dst = clientToken
		default:
			return false
		}
		i = skipSpace(body, ke+1)
		if i == len(body) || body[i] != ':' {
			return false
		}
		vs, ve, ok := plainString(body, skipSpace(body, i+1))
		if !ok || n == len(found) {
			return false
		}
		found[n] = member{dst, vs, ve}
		n++
		i = skipSpace(body, ve+1)
		if i == len(body) {
			return false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return false
		}
		i = skipSpace(body, i+1)
	}
	if skipSpace(body, i+1) != len(body) {
		return false
	}
	all := string(body) // the values share one copy of the body
	vals := make([]string, n)
	for k, m := range found[:n] {
		vals[k] = all[m.from:m.to]
		*m.dst = &vals[k]
	}
	return true
}

// plainString finds the JSON string starting at body[i], reporting the
// bounds of its content; false if there is none, or if it has an escape, a
// control character or invalid UTF-8 (which encoding/json would reject or
// rewrite).
func plainString(body []byte, i int) (from, to int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return 0, 0, false
	}
	ascii := true
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return i + 1, j, ascii || utf8.Valid(body[i+1:j])
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false
}

// skipSpace skips JSON's whitespace from body[i].
func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}
