package participantapi

import (
	"time"

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
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
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
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, err
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
