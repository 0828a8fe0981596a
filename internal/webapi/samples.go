package webapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/realip"
)

// SamplePath is where Parley plays the backend of Amazon's open-source chat
// widgets (amazon-connect-chat-interface and the widgets of
// amazon-connect-chat-ui-examples), which start chats through a small API
// Gateway Lambda calling StartChatContact: pointing their
// apiGatewayEndpoint here, and ChatJS's endpoint at Parley, is all they
// need.
const SamplePath = "/widget/v1/start-chat-contact"

// sampleHeaders are the request headers those widgets' API Gateway allows.
const sampleHeaders = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"

// sampleIn is the Lambda's request. ConnectInstanceId is what some samples
// send for InstanceId.
type sampleIn struct {
	InstanceId         string
	ConnectInstanceId  string
	ContactFlowId      string
	ParticipantDetails *struct{ DisplayName string }
	Attributes         map[string]string
	// SupportedMessagingContentTypes, ChatDurationInMinutes and
	// InitialMessage are StartChatContact's.
	SupportedMessagingContentTypes []string
	ChatDurationInMinutes          int
	InitialMessage                 *struct{ ContentType, Content string }
	PersistentChat                 *struct{ SourceContactId, RehydrationType string }
	Username                       string
}

// sampleError answers as the Lambda does when StartChatContact fails: the
// SDK's error under data.Error, with a non-2xx status.
func sampleError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"data": map[string]any{"Error": map[string]any{
		"code": code, "message": message, "statusCode": status}}})
}

// startSample serves SamplePath. The body is JSON, whatever its
// Content-Type says: the samples send it as text/plain, which a browser
// sends without a preflight.
func (a *API) startSample(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Enabled {
		sampleError(w, http.StatusNotFound, "ResourceNotFoundException", "Starting chats from the web is turned off on this server.")
		return
	}
	if !a.allowOrigin(w, r) {
		sampleError(w, http.StatusForbidden, "AccessDeniedException", "This origin may not start chats.")
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST,OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", sampleHeaders)
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !a.limiter.Allow(realip.Key(a.client(r))) {
		w.Header().Set("Retry-After", "60")
		sampleError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Too many chats started from this address; try again in a minute.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var in sampleIn
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		sampleError(w, http.StatusBadRequest, "InvalidRequestException", "The request body must be JSON, as StartChatContact takes it.")
		return
	}
	if msg := in.check(a.chat.InstanceID()); msg != "" {
		sampleError(w, http.StatusBadRequest, "InvalidParameterException", msg)
		return
	}
	var initial *chat.Message
	if m := in.InitialMessage; m != nil {
		initial = &chat.Message{ContentType: m.ContentType, Content: m.Content}
	}
	types := in.SupportedMessagingContentTypes
	if len(types) == 0 {
		types = []string{chat.ContentPlain, chat.ContentMarkdown}
	}
	// As with the widget's own endpoint, everything a browser sends is the
	// customer's word, kept apart from the Connect API's attributes; the
	// flow is Parley's web flow, whatever ContactFlowId says.
	out, err := a.chat.StartChat(r.Context(), chat.StartChatInput{
		InstanceID: a.chat.InstanceID(), FlowID: FlowID, DisplayName: strings.TrimSpace(in.ParticipantDetails.DisplayName),
		CustomerAttributes: in.Attributes, ContentTypes: types, InitialMessage: initial,
		DurationMins: in.ChatDurationInMinutes, MaxQueued: a.cfg.MaxQueued,
	})
	if errors.Is(err, chat.ErrQueueFull) {
		w.Header().Set("Retry-After", "120")
		sampleError(w, http.StatusServiceUnavailable, "LimitExceededException", chat.ErrQueueFull.Message)
		return
	}
	if err != nil {
		var e *chat.Error
		if !errors.As(err, &e) {
			a.log.Error("web API", "err", err)
			sampleError(w, http.StatusInternalServerError, "InternalServiceException", "An internal error occurred.")
			return
		}
		status := map[chat.Kind]int{chat.Invalid: 400, chat.NotFound: 404, chat.AccessDenied: 403, chat.Ended: 410,
			chat.Conflict: 409, chat.QuotaExceeded: 429}[e.Kind]
		sampleError(w, status, "InvalidParameterException", e.Message)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"startChatResult": map[string]string{"ContactId": out.ContactID, "ParticipantId": out.ParticipantID,
			"ParticipantToken": out.ParticipantToken},
		// What the hosted widget's backend tells the widget it may offer.
		"featurePermissions": map[string]bool{"ATTACHMENTS": a.chat.AttachmentsEnabled(), "MESSAGE_RECEIPTS": true},
	}})
}

// check returns what is wrong with the request, in StartChatContact's
// terms, or "".
func (in *sampleIn) check(instanceID string) string {
	id := in.InstanceId
	if id == "" {
		id = in.ConnectInstanceId
	}
	switch {
	case id != "" && id != instanceID:
		return "InstanceId is not this Parley instance's id."
	case in.ParticipantDetails == nil:
		return "ParticipantDetails.DisplayName is required."
	case utf8.RuneCountInString(strings.TrimSpace(in.ParticipantDetails.DisplayName)) < 1 ||
		utf8.RuneCountInString(in.ParticipantDetails.DisplayName) > 256:
		return "ParticipantDetails.DisplayName must be 1 to 256 characters."
	case len(in.Attributes) > 50 || sizeOf(in.Attributes) > 32768:
		return "Attributes may hold at most 50 entries and 32 KB."
	case in.ChatDurationInMinutes != 0 && (in.ChatDurationInMinutes < chat.MinDurationMins || in.ChatDurationInMinutes > chat.MaxDurationMins):
		return "ChatDurationInMinutes must be 60 to 10080."
	case in.PersistentChat != nil && in.PersistentChat.SourceContactId != "":
		return "PersistentChat is not supported by this endpoint: every chat starts a new transcript."
	}
	if m := in.InitialMessage; m != nil && (m.ContentType == "" || m.Content == "" || utf8.RuneCountInString(m.Content) > 16384) {
		return "InitialMessage needs a ContentType and 1 to 16384 characters of Content."
	}
	for _, t := range in.SupportedMessagingContentTypes {
		if !slices.Contains(chat.ChatContentTypes, t) {
			return "SupportedMessagingContentTypes holds a type StartChatContact does not take."
		}
	}
	return ""
}

func sizeOf(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}
