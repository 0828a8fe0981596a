// Package connectapi serves the chat operations of the Amazon Connect API
// (restJson1, SigV4 with service name "connect", verified against the
// instance's credentials).
package connectapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/quota"
	"github.com/parleychat/parley/internal/sigv4"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/streaming"
)

// Config describes the instance the API serves.
type Config struct {
	Region    string
	AccountID string
	// Verifier checks request signatures.
	Verifier *sigv4.Verifier
	// Throttle, if not nil, applies Connect's request rates per operation.
	Throttle *quota.Limiter
}

// API is the Connect API.
type API struct {
	cfg  Config
	chat *chat.Service
	log  *slog.Logger
}

// New returns the Connect API over svc.
func New(cfg Config, svc *chat.Service, log *slog.Logger) *API {
	return &API{cfg: cfg, chat: svc, log: log}
}

// Register adds the Connect routes to mux. The Connect API sits at the
// root, so it also answers every path no other part of Parley serves.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("PUT /contact/chat", a.op("StartChatContact", a.startChatContact))
	mux.Handle("POST /contact/stop", a.op("StopContact", a.stopContact))
	mux.Handle("POST /contact/create-participant", a.op("CreateParticipant", a.createParticipant))
	mux.Handle("GET /contacts/{InstanceId}/{ContactId}", a.op("DescribeContact", a.describeContact))
	mux.Handle("PUT /contact/participant-role-config/{InstanceId}/{ContactId}", a.op("UpdateParticipantRoleConfig", a.updateParticipantRoleConfig))
	mux.Handle("GET /attached-files-configurations/{InstanceId}/{AttachmentScope}", a.op("DescribeAttachedFilesConfiguration", a.describeAttachedFilesConfiguration))
	mux.Handle("POST /attached-files-configurations/{InstanceId}/{AttachmentScope}", a.op("UpdateAttachedFilesConfiguration", a.updateAttachedFilesConfiguration))
	mux.Handle("GET /contact/attributes/{InstanceId}/{InitialContactId}", a.op("GetContactAttributes", a.getContactAttributes))
	mux.Handle("POST /contact/attributes", a.op("UpdateContactAttributes", a.updateContactAttributes))
	mux.Handle("POST /contact/transfer", a.op("TransferContact", a.transferContact))
	mux.Handle("POST /contact/monitor", a.op("MonitorContact", a.monitorContact))
	mux.Handle("POST /contact/persistent-contact-association/{InstanceId}/{InitialContactId}",
		a.op("CreatePersistentContactAssociation", a.createPersistentContactAssociation))
	mux.Handle("POST /contact/start-streaming", a.op("StartContactStreaming", a.startContactStreaming))
	mux.Handle("POST /contact/stop-streaming", a.op("StopContactStreaming", a.stopContactStreaming))
	mux.Handle("/", http.HandlerFunc(awswire.UnknownRoute))
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte) error

func (a *API) op(name string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		awswire.RequestID(w)
		// What can be checked without the body is, before it is read.
		if err := a.cfg.Verifier.CheckHeaders(r); err != nil {
			awswire.WriteError(w, a.log, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, awswire.MaxBodyBytes))
		if err != nil {
			const unreadable = "Could not read the request body (at most %d bytes)."
			bad := invalidParameter(unreadable, awswire.MaxBodyBytes)
			if withoutInvalidParameter[name] {
				bad = invalidRequest(unreadable, awswire.MaxBodyBytes)
			}
			awswire.WriteError(w, a.log, bad)
			return
		}
		if err := a.cfg.Verifier.Verify(r, body); err != nil {
			awswire.WriteError(w, a.log, err)
			return
		}
		if !a.cfg.Throttle.Allow(a.chat.InstanceID(), name) {
			awswire.WriteError(w, a.log, throttled(name))
			return
		}
		if err := h(w, r, body); err != nil {
			awswire.WriteError(w, a.log, toWire(err), "InternalServiceException")
		}
	})
}

// throttled is the answer past an operation's request rate: 429
// ThrottlingException, which the SDKs retry with backoff. StartChatContact's
// reference says its "API TPS throttling returns a TooManyRequests
// exception" instead; the SDKs retry that code as well.
func throttled(op string) error {
	typ := "ThrottlingException"
	if op == "StartChatContact" {
		typ = "TooManyRequestsException"
	}
	return awswire.Errorf(http.StatusTooManyRequests, typ, "Rate exceeded")
}

func invalidParameter(format string, args ...any) *awswire.Error {
	return awswire.Errorf(http.StatusBadRequest, "InvalidParameterException", format, args...)
}

func invalidRequest(format string, args ...any) *awswire.Error {
	return awswire.Errorf(http.StatusBadRequest, "InvalidRequestException", format, args...)
}

// asConnect re-types a model-constraint violation as Connect reports it.
func asConnect(err error) error {
	var e *awswire.Error
	if errors.As(err, &e) && e.Type == "ValidationException" {
		return invalidParameter("%s", e.Message)
	}
	return err
}

// withoutInvalidParameter are the operations whose model declares no
// InvalidParameterException.
var withoutInvalidParameter = map[string]bool{
	"CreateParticipant": true, "GetContactAttributes": true, "MonitorContact": true, "TransferContact": true,
}

// asRequest re-types a model-constraint violation for the operations
// that declare no InvalidParameterException (CreateParticipant,
// GetContactAttributes, MonitorContact, TransferContact): they report bad
// input as InvalidRequestException, the only 400 the SDKs type for them.
func asRequest(err error) error {
	var e *awswire.Error
	if errors.As(err, &e) && e.Type == "ValidationException" {
		return invalidRequest("%s", e.Message)
	}
	return err
}

// toWire maps domain errors to Connect's exception shapes.
func toWire(err error) error {
	var e *chat.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case chat.Invalid:
		return invalidRequest("%s", e.Message)
	case chat.NotFound:
		return awswire.Errorf(http.StatusNotFound, "ResourceNotFoundException", "%s", e.Message)
	case chat.Ended:
		return invalidRequest("The contact is not active: %s", e.Message)
	case chat.AccessDenied:
		return awswire.Errorf(http.StatusForbidden, "AccessDeniedException", "%s", e.Message)
	case chat.Conflict:
		return awswire.Errorf(http.StatusConflict, "ConflictException", "%s", e.Message)
	case chat.QuotaExceeded:
		return awswire.Errorf(http.StatusPaymentRequired, "ServiceQuotaExceededException", "%s", e.Message)
	case chat.Mismatch:
		// MonitorContact's model declares it (409) for a reused token;
		// StartContactStreaming, which does not, re-types it.
		return awswire.Errorf(http.StatusConflict, "IdempotencyException", "%s", e.Message)
	}
	return err
}

type chatMessage struct {
	ContentType *string
	Content     *string
}

type startChatInput struct {
	InstanceId         *string
	ContactFlowId      *string
	Attributes         map[string]string
	ParticipantDetails *struct{ DisplayName *string }
	InitialMessage     *chatMessage
	ClientToken        *string
	// ChatDurationInMinutes is a pointer so that an explicit 0 is refused.
	ChatDurationInMinutes          *int64
	SupportedMessagingContentTypes []string
	PersistentChat                 *struct {
		RehydrationType *string
		SourceContactId *string
	}
	RelatedContactId  *string
	CustomerId        *string
	SegmentAttributes map[string]store.SegmentAttributeValue
	// Accepted for compatibility (checked against the model); they change
	// nothing in a Parley chat.
	ParticipantConfiguration *struct{ ResponseMode *string }
	DisconnectOnCustomerExit []string
}

// maxInitialMessageBytes is ChatMessage.Content's documented size limit.
const maxInitialMessageBytes = 16384

func decodeStartChat(body []byte) (in startChatInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, asConnect(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactFlowId", in.ContactFlowId, 0, 500)
	if in.ParticipantDetails == nil {
		c.Fail("1 validation error detected: Value null at 'participantDetails' failed to satisfy constraint: Member must not be null")
	} else {
		c.Required("participantDetails.displayName", in.ParticipantDetails.DisplayName, 1, 256)
	}
	checkAttributes(&c, in.Attributes)
	if m := in.InitialMessage; m != nil {
		c.Required("initialMessage.contentType", m.ContentType, 1, 100)
		c.Required("initialMessage.content", m.Content, 1, 16384)
		// The reference bounds it in bytes too: "Maximum of 16,384 bytes
		// for all content types".
		if m.Content != nil && len(*m.Content) > maxInitialMessageBytes {
			c.Fail("InitialMessage.Content has %d bytes; at most %d are allowed for all content types.", len(*m.Content), maxInitialMessageBytes)
		}
	}
	c.Length("clientToken", in.ClientToken, 0, 500)
	c.Range("chatDurationInMinutes", in.ChatDurationInMinutes, chat.MinDurationMins, chat.MaxDurationMins)
	for _, t := range in.SupportedMessagingContentTypes {
		c.Length("supportedMessagingContentTypes.member", &t, 1, 100)
		c.OneOf("supportedMessagingContentTypes.member", &t, chat.ChatContentTypes...)
	}
	c.Length("relatedContactId", in.RelatedContactId, 1, 256)
	c.Length("customerId", in.CustomerId, 1, 128)
	checkSegmentAttributes(&c, "segmentAttributes", in.SegmentAttributes)
	if pc := in.ParticipantConfiguration; pc != nil {
		c.OneOf("participantConfiguration.responseMode", pc.ResponseMode, "INCREMENTAL", "COMPLETE")
	}
	if in.DisconnectOnCustomerExit != nil && len(in.DisconnectOnCustomerExit) != 1 {
		c.Fail("1 validation error detected: Value at 'disconnectOnCustomerExit' failed to satisfy constraint: Member must have length between 1 and 1")
	}
	for _, p := range in.DisconnectOnCustomerExit {
		c.OneOf("disconnectOnCustomerExit.member", &p, chat.RoleAgent)
	}
	if err := c.Err(); err != nil {
		return in, asConnect(err)
	}
	if pc := in.PersistentChat; pc != nil {
		if in.RelatedContactId != nil {
			return in, invalidParameter("You cannot provide data for both RelatedContactId and PersistentChat.")
		}
		if err := checkPersistence(pc.RehydrationType, pc.SourceContactId); err != nil {
			return in, err
		}
	}
	if len(in.SupportedMessagingContentTypes) > 0 && !slices.Contains(in.SupportedMessagingContentTypes, chat.ContentPlain) {
		return in, invalidParameter("SupportedMessagingContentTypes must include text/plain.")
	}
	// The reference: both interactive types "must be present in the
	// SupportedMessagingContentTypes field ... in order to set
	// SegmentAttributes as {"connect:Subtype": {"valueString" : "connect:Guide"}}".
	if v := in.SegmentAttributes[subtypeKey].ValueString; v != nil && *v == subtypeGuide &&
		!(slices.Contains(in.SupportedMessagingContentTypes, chat.ContentInteractive) &&
			slices.Contains(in.SupportedMessagingContentTypes, chat.ContentInteractiveResponse)) {
		return in, invalidParameter("SegmentAttributes %s %s needs %s and %s in SupportedMessagingContentTypes.",
			subtypeKey, subtypeGuide, chat.ContentInteractive, chat.ContentInteractiveResponse)
	}
	return in, nil
}

// The channel subtype segment attribute, and the subtype of Connect's
// step-by-step guides.
const (
	subtypeKey   = "connect:Subtype"
	subtypeGuide = "connect:Guide"
)

// checkSegmentAttributes applies the model's bounds to SegmentAttributes
// and, as values nest, to every ValueMap and ValueList inside: names of 1
// to 128 characters, ValueString and ValueArn of at most 1,024 (ValueInteger
// is an int32, which decoding checks). Which keys Connect accepts for a
// chat is not documented beyond connect:Subtype, so any other is kept as
// given.
func checkSegmentAttributes(c *awswire.Checker, name string, attrs map[string]store.SegmentAttributeValue) {
	for k, v := range attrs {
		c.Length(name+".key", &k, 1, 128)
		checkSegmentValue(c, name+".value", v)
	}
}

func checkSegmentValue(c *awswire.Checker, name string, v store.SegmentAttributeValue) {
	c.Length(name+".valueString", v.ValueString, 0, 1024)
	c.Length(name+".valueArn", v.ValueArn, 0, 1024)
	checkSegmentAttributes(c, name+".valueMap", v.ValueMap)
	for _, e := range v.ValueList {
		checkSegmentValue(c, name+".valueList.member", e)
	}
}

// checkPersistence checks a PersistentChat's or a persistent
// association's fields: both are needed ("RehydrationType is required for
// persistent chat").
func checkPersistence(typ, source *string) error {
	var c awswire.Checker
	c.OneOf("persistentChat.rehydrationType", typ, chat.RehydrationEntire, chat.RehydrationSegment)
	c.Length("persistentChat.sourceContactId", source, 1, 256)
	if err := c.Err(); err != nil {
		return asConnect(err)
	}
	if typ == nil {
		return invalidParameter("RehydrationType is required for persistent chat: %s or %s.", chat.RehydrationEntire, chat.RehydrationSegment)
	}
	if source == nil {
		return invalidParameter("SourceContactId is required for persistent chat.")
	}
	return nil
}

type startChatOutput struct {
	ContactId              string
	ParticipantId          string
	ParticipantToken       string
	ContinuedFromContactId string `json:",omitempty"`
}

func (a *API) startChatContact(w http.ResponseWriter, r *http.Request, body []byte) error {
	in, err := decodeStartChat(body)
	if err != nil {
		return err
	}
	var persistent *chat.Persistence
	if pc := in.PersistentChat; pc != nil {
		persistent = &chat.Persistence{RehydrationType: *pc.RehydrationType, SourceContactID: *pc.SourceContactId}
	}
	var initial *chat.Message
	if m := in.InitialMessage; m != nil {
		initial = &chat.Message{ContentType: *m.ContentType, Content: *m.Content}
	}
	out, err := a.chat.StartChat(r.Context(), chat.StartChatInput{
		InstanceID:     *in.InstanceId,
		FlowID:         *in.ContactFlowId,
		DisplayName:    *in.ParticipantDetails.DisplayName,
		Attributes:     in.Attributes,
		InitialMessage: initial,
		ClientToken:    awswire.Deref(in.ClientToken),
		DurationMins:   int(awswire.Deref(in.ChatDurationInMinutes)),
		ContentTypes:   in.SupportedMessagingContentTypes,

		RelatedContactID: awswire.Deref(in.RelatedContactId),
		Persistent:       persistent,

		CustomerID:        awswire.Deref(in.CustomerId),
		SegmentAttributes: in.SegmentAttributes,
	})
	if err != nil {
		return err
	}
	obs.SetContact(r.Context(), out.ContactID)
	awswire.WriteJSON(w, startChatOutput{ContactId: out.ContactID, ParticipantId: out.ParticipantID, ParticipantToken: out.ParticipantToken,
		ContinuedFromContactId: out.ContinuedFromContactID})
	return nil
}

type stopContactInput struct {
	ContactId        *string
	InstanceId       *string
	DisconnectReason *struct{ Code *string }
}

func decodeStopContact(body []byte) (in stopContactInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, asConnect(err)
	}
	var c awswire.Checker
	c.Required("contactId", in.ContactId, 1, 256)
	c.Required("instanceId", in.InstanceId, 1, 100)
	return in, asConnect(c.Err())
}

func (a *API) stopContact(w http.ResponseWriter, r *http.Request, body []byte) error {
	in, err := decodeStopContact(body)
	if err != nil {
		return err
	}
	obs.SetContact(r.Context(), *in.ContactId)
	err = a.chat.StopContact(r.Context(), *in.InstanceId, *in.ContactId)
	if chat.KindOf(err) == chat.Ended {
		return awswire.Errorf(http.StatusGone, "ContactNotFoundException", "Contact %s is not active.", *in.ContactId)
	}
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	return nil
}

type createParticipantInput struct {
	InstanceId         *string
	ContactId          *string
	ClientToken        *string
	ParticipantDetails *struct {
		ParticipantRole         *string
		DisplayName             *string
		ParticipantCapabilities any
	}
}

func decodeCreateParticipant(body []byte) (in createParticipantInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, asRequest(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactId", in.ContactId, 1, 256)
	c.Length("clientToken", in.ClientToken, 0, 500)
	if d := in.ParticipantDetails; d == nil {
		c.Fail("1 validation error detected: Value null at 'participantDetails' failed to satisfy constraint: Member must not be null")
	} else {
		c.OneOf("participantDetails.participantRole", d.ParticipantRole, "AGENT", "CUSTOMER", "SYSTEM", "CUSTOM_BOT", "SUPERVISOR")
		c.Length("participantDetails.displayName", d.DisplayName, 1, 256)
	}
	if err := c.Err(); err != nil {
		return in, asRequest(err)
	}
	if in.ParticipantDetails.ParticipantRole == nil {
		return in, invalidRequest("ParticipantDetails.ParticipantRole is required: CUSTOM_BOT, or AGENT for an agent joining the chat.")
	}
	return in, nil
}

type createParticipantOutput struct {
	ParticipantCredentials struct {
		ParticipantToken string
		Expiry           string
	}
	ParticipantId string
}

func (a *API) createParticipant(w http.ResponseWriter, r *http.Request, body []byte) error {
	in, err := decodeCreateParticipant(body)
	if err != nil {
		return err
	}
	d := in.ParticipantDetails
	obs.SetContact(r.Context(), *in.ContactId)
	p, err := a.chat.AddParticipant(r.Context(), *in.InstanceId, *in.ContactId, *d.ParticipantRole,
		awswire.Deref(d.DisplayName), awswire.Deref(in.ClientToken))
	if err != nil {
		return err
	}
	var out createParticipantOutput
	out.ParticipantId = p.ParticipantID
	out.ParticipantCredentials.ParticipantToken = p.ParticipantToken
	out.ParticipantCredentials.Expiry = awswire.FormatTime(p.Expiry)
	awswire.WriteJSON(w, out)
	return nil
}

// contactPath returns the {InstanceId} and {ContactId} labels of the path.
func contactPath(r *http.Request) (instanceID, contactID string, err error) {
	instanceID, contactID = r.PathValue("InstanceId"), r.PathValue("ContactId")
	obs.SetContact(r.Context(), contactID)
	var c awswire.Checker
	c.Required("instanceId", &instanceID, 1, 100)
	c.Required("contactId", &contactID, 1, 256)
	return instanceID, contactID, asConnect(c.Err())
}

type queueInfo struct {
	Id               string
	EnqueueTimestamp awswire.EpochSeconds
}

type agentInfo struct {
	Id                        string
	ConnectedToAgentTimestamp awswire.EpochSeconds
	AcceptedByAgentTimestamp  awswire.EpochSeconds
}

type contactOut struct {
	Arn                 string
	Id                  string
	InitialContactId    string
	RelatedContactId    string `json:",omitempty"`
	InitiationMethod    string
	Channel             string
	QueueInfo           *queueInfo `json:",omitempty"`
	AgentInfo           *agentInfo `json:",omitempty"`
	InitiationTimestamp awswire.EpochSeconds
	DisconnectTimestamp *awswire.EpochSeconds `json:",omitempty"`
	LastUpdateTimestamp awswire.EpochSeconds
	DisconnectReason    string                                 `json:",omitempty"`
	Attributes          map[string]string                      `json:",omitempty"`
	CustomerId          string                                 `json:",omitempty"`
	SegmentAttributes   map[string]store.SegmentAttributeValue `json:",omitempty"`
}

func (a *API) describeContact(w http.ResponseWriter, r *http.Request, _ []byte) error {
	instanceID, contactID, err := contactPath(r)
	if err != nil {
		return err
	}
	k, ps, err := a.chat.Contact(r.Context(), instanceID, contactID)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ Contact contactOut }{a.contactOut(k, chat.AgentUserID(k, ps))})
	return nil
}

func (a *API) contactOut(k store.Contact, agentID string) contactOut {
	out := contactOut{
		Arn:                 a.contactArn(k.InstanceID, k.ID),
		Id:                  k.ID,
		InitialContactId:    k.InitialContactID,
		RelatedContactId:    k.RelatedContactID,
		InitiationMethod:    "API",
		Channel:             "CHAT",
		QueueInfo:           &queueInfo{Id: k.QueueID, EnqueueTimestamp: awswire.EpochSeconds(k.EnqueuedAt())},
		InitiationTimestamp: awswire.EpochSeconds(k.CreatedAt),
		DisconnectReason:    k.DisconnectReason,
		Attributes:          k.Attributes,
		CustomerId:          k.CustomerID,
		SegmentAttributes:   k.SegmentAttributes,
	}
	if !k.ConnectedAt.IsZero() {
		out.AgentInfo = &agentInfo{Id: agentID, ConnectedToAgentTimestamp: awswire.EpochSeconds(k.ConnectedAt),
			AcceptedByAgentTimestamp: awswire.EpochSeconds(k.ConnectedAt)}
	}
	if !k.EndedAt.IsZero() {
		t := awswire.EpochSeconds(k.EndedAt)
		out.DisconnectTimestamp = &t
	}
	out.LastUpdateTimestamp = awswire.EpochSeconds(k.LastUpdate())
	return out
}

type roleConfigInput struct {
	ChannelConfiguration *struct {
		Chat *struct {
			ParticipantTimerConfigList []struct {
				ParticipantRole *string
				TimerType       *string
				TimerValue      *struct {
					ParticipantTimerAction            *string
					ParticipantTimerDurationInMinutes *int64
				}
			}
		}
	}
}

func decodeRoleConfig(body []byte) ([]chat.TimerUpdate, error) {
	var in roleConfigInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return nil, asConnect(err)
	}
	if in.ChannelConfiguration == nil || in.ChannelConfiguration.Chat == nil {
		return nil, invalidParameter("ChannelConfiguration.Chat is required.")
	}
	list := in.ChannelConfiguration.Chat.ParticipantTimerConfigList
	var c awswire.Checker
	if len(list) < 1 || len(list) > 6 {
		c.Fail("1 validation error detected: Value at 'channelConfiguration.chat.participantTimerConfigList' failed to satisfy constraint: Member must have length between 1 and 6")
	}
	var updates []chat.TimerUpdate
	for _, e := range list {
		if e.ParticipantRole == nil || e.TimerType == nil || e.TimerValue == nil {
			c.Fail("Each participant timer needs ParticipantRole, TimerType and TimerValue.")
			continue
		}
		c.OneOf("participantTimerConfigList.member.participantRole", e.ParticipantRole, chat.RoleCustomer, chat.RoleAgent)
		c.OneOf("participantTimerConfigList.member.timerType", e.TimerType, chat.TimerIdle, chat.TimerDisconnect)
		v := e.TimerValue
		if (v.ParticipantTimerAction == nil) == (v.ParticipantTimerDurationInMinutes == nil) {
			c.Fail("TimerValue takes exactly one of ParticipantTimerAction and ParticipantTimerDurationInMinutes.")
			continue
		}
		c.OneOf("participantTimerConfigList.member.timerValue.participantTimerAction", v.ParticipantTimerAction, chat.TimerUnset)
		c.Range("participantTimerConfigList.member.timerValue.participantTimerDurationInMinutes", v.ParticipantTimerDurationInMinutes, 2, 480)
		updates = append(updates, chat.TimerUpdate{Role: *e.ParticipantRole, Type: *e.TimerType,
			Minutes: int(awswire.Deref(v.ParticipantTimerDurationInMinutes)), Unset: v.ParticipantTimerAction != nil})
	}
	return updates, asConnect(c.Err())
}

func (a *API) updateParticipantRoleConfig(w http.ResponseWriter, r *http.Request, body []byte) error {
	instanceID, contactID, err := contactPath(r)
	if err != nil {
		return err
	}
	updates, err := decodeRoleConfig(body)
	if err != nil {
		return err
	}
	if err := a.chat.UpdateTimers(r.Context(), instanceID, contactID, updates); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	return nil
}

type extensionOut struct{ Extension string }

type attachedFilesConfiguration struct {
	InstanceId              string
	AttachmentScope         string
	MaximumSizeLimitInBytes int64
	ExtensionConfiguration  struct{ AllowedExtensions []extensionOut }
	LastModifiedTime        *awswire.EpochSeconds `json:",omitempty"`
}

func filesConfigOut(instanceID, scope string, l attach.Limits, modified time.Time) attachedFilesConfiguration {
	out := attachedFilesConfiguration{InstanceId: instanceID, AttachmentScope: scope, MaximumSizeLimitInBytes: l.MaxBytes}
	out.ExtensionConfiguration.AllowedExtensions = []extensionOut{}
	for _, e := range l.Extensions {
		out.ExtensionConfiguration.AllowedExtensions = append(out.ExtensionConfiguration.AllowedExtensions, extensionOut{e})
	}
	if !modified.IsZero() {
		t := awswire.EpochSeconds(modified)
		out.LastModifiedTime = &t
	}
	return out
}

// scopePath returns the {InstanceId} and {AttachmentScope} labels.
func scopePath(r *http.Request) (instanceID, scope string, err error) {
	instanceID, scope = r.PathValue("InstanceId"), r.PathValue("AttachmentScope")
	var c awswire.Checker
	c.Required("instanceId", &instanceID, 1, 100)
	c.OneOf("attachmentScope", &scope, "EMAIL", "CHAT", "CASE", "TASK")
	return instanceID, scope, asConnect(c.Err())
}

func (a *API) describeAttachedFilesConfiguration(w http.ResponseWriter, r *http.Request, _ []byte) error {
	instanceID, scope, err := scopePath(r)
	if err != nil {
		return err
	}
	if instanceID != a.chat.InstanceID() {
		return awswire.Errorf(http.StatusNotFound, "ResourceNotFoundException", "Instance %s not found.", instanceID)
	}
	l, modified, err := a.chat.Limits(r.Context(), instanceID, scope)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ AttachedFilesConfiguration attachedFilesConfiguration }{filesConfigOut(instanceID, scope, l, modified)})
	return nil
}

type filesConfigInput struct {
	MaximumSizeLimitInBytes *int64
	ExtensionConfiguration  *struct {
		AllowedExtensions []struct{ Extension *string }
	}
}

func decodeFilesConfig(body []byte) (maxBytes *int64, extensions []string, err error) {
	var in filesConfigInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return nil, nil, asConnect(err)
	}
	var c awswire.Checker
	c.Range("maximumSizeLimitInBytes", in.MaximumSizeLimitInBytes, 1, attach.MaxBytesCeiling)
	if ec := in.ExtensionConfiguration; ec != nil {
		if ec.AllowedExtensions == nil {
			c.Fail("ExtensionConfiguration.AllowedExtensions is required.")
		}
		extensions = []string{}
		for _, e := range ec.AllowedExtensions {
			if e.Extension == nil || !attach.ValidExtension(*e.Extension) {
				c.Fail("Each allowed Extension must be 1 to 10 characters of letters, digits, '-' or '_'.")
				break
			}
			extensions = append(extensions, *e.Extension)
		}
	}
	return in.MaximumSizeLimitInBytes, extensions, asConnect(c.Err())
}

func (a *API) updateAttachedFilesConfiguration(w http.ResponseWriter, r *http.Request, body []byte) error {
	instanceID, scope, err := scopePath(r)
	if err != nil {
		return err
	}
	maxBytes, extensions, err := decodeFilesConfig(body)
	if err != nil {
		return err
	}
	l, modified, err := a.chat.UpdateLimits(r.Context(), instanceID, scope, maxBytes, extensions)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, filesConfigOut(instanceID, scope, l, modified))
	return nil
}

// checkAttributes applies the model's and the API reference's rules for
// attributes: keys of 1 to 32767 characters that are "only alphanumeric,
// dash, and underscore characters", values of up to 32767, and "up to
// 32,768 UTF-8 bytes across all attributes for a contact".
func checkAttributes(c *awswire.Checker, attrs map[string]string) {
	for k, v := range attrs {
		c.Length("attributes.key", &k, 1, 32767)
		c.Length("attributes.value", &v, 0, 32767)
		if strings.TrimFunc(k, attributeKeyRune) != "" {
			c.Fail("Attribute key %q is not valid: keys can include only alphanumeric, dash, and underscore characters.", k)
		}
	}
	if n := store.AttributesSize(attrs); n > chat.MaxAttributesBytes {
		c.Fail("Attributes total %d bytes; at most %d UTF-8 bytes are allowed across all attributes.", n, chat.MaxAttributesBytes)
	}
}

func attributeKeyRune(r rune) bool {
	return r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

type updateAttributesInput struct {
	InitialContactId *string
	InstanceId       *string
	Attributes       map[string]string
}

func decodeUpdateAttributes(body []byte) (in updateAttributesInput, err error) {
	if err = awswire.Unmarshal(body, &in); err != nil {
		return in, asConnect(err)
	}
	var c awswire.Checker
	c.Required("initialContactId", in.InitialContactId, 1, 256)
	c.Required("instanceId", in.InstanceId, 1, 100)
	if in.Attributes == nil {
		c.Fail("1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null")
	}
	checkAttributes(&c, in.Attributes)
	return in, asConnect(c.Err())
}

func (a *API) updateContactAttributes(w http.ResponseWriter, r *http.Request, body []byte) error {
	in, err := decodeUpdateAttributes(body)
	if err != nil {
		return err
	}
	if err := a.chat.UpdateAttributes(r.Context(), *in.InstanceId, *in.InitialContactId, in.Attributes); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	return nil
}

func (a *API) getContactAttributes(w http.ResponseWriter, r *http.Request, _ []byte) error {
	instanceID, contactID := r.PathValue("InstanceId"), r.PathValue("InitialContactId")
	var c awswire.Checker
	c.Required("instanceId", &instanceID, 1, 100)
	c.Required("initialContactId", &contactID, 1, 256)
	if err := asRequest(c.Err()); err != nil {
		return err
	}
	attrs, err := a.chat.ContactAttributes(r.Context(), instanceID, contactID)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ Attributes map[string]string }{attrs})
	return nil
}

type persistInput struct {
	RehydrationType *string
	SourceContactId *string
	ClientToken     *string
}

func (a *API) createPersistentContactAssociation(w http.ResponseWriter, r *http.Request, body []byte) error {
	instanceID, contactID := r.PathValue("InstanceId"), r.PathValue("InitialContactId")
	obs.SetContact(r.Context(), contactID)
	var in persistInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return asConnect(err)
	}
	var c awswire.Checker
	c.Required("instanceId", &instanceID, 1, 100)
	c.Required("initialContactId", &contactID, 1, 256)
	c.Length("clientToken", in.ClientToken, 0, 500)
	if err := asConnect(c.Err()); err != nil {
		return err
	}
	if err := checkPersistence(in.RehydrationType, in.SourceContactId); err != nil {
		return err
	}
	out, err := a.chat.Persist(r.Context(), instanceID, contactID,
		chat.Persistence{RehydrationType: *in.RehydrationType, SourceContactID: *in.SourceContactId}, awswire.Deref(in.ClientToken))
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ ContinuedFromContactId string }{out.ContinuedFromContactID})
	return nil
}

type transferInput struct {
	InstanceId    *string
	ContactId     *string
	QueueId       *string
	UserId        *string
	ContactFlowId *string
	ClientToken   *string
}

// transferContact answers as Connect does for a chat: "Transfer is only
// supported for TASK and EMAIL contacts", and every Parley contact is a
// chat. The agent console transfers chats (see the README).
func (a *API) transferContact(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in transferInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return asRequest(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactId", in.ContactId, 1, 256)
	c.Required("contactFlowId", in.ContactFlowId, 0, 500)
	c.Length("queueId", in.QueueId, 0, 500)
	c.Length("userId", in.UserId, 0, 256)
	c.Length("clientToken", in.ClientToken, 0, 500)
	if err := asRequest(c.Err()); err != nil {
		return err
	}
	obs.SetContact(r.Context(), *in.ContactId)
	if in.QueueId != nil && in.UserId != nil {
		return invalidRequest("Do not use both QueueId and UserId in the same call.")
	}
	if _, _, err := a.chat.Contact(r.Context(), *in.InstanceId, *in.ContactId); err != nil {
		return err
	}
	return invalidRequest("Transfer is only supported for TASK and EMAIL contacts; this contact is a CHAT contact.")
}

type monitorInput struct {
	InstanceId                 *string
	ContactId                  *string
	UserId                     *string
	AllowedMonitorCapabilities []string
	ClientToken                *string
}

// monitorContact makes a console agent, named by its id as UserId, a
// SUPERVISOR of a chat; the agent's console then joins with the
// participant (see the README).
func (a *API) monitorContact(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in monitorInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return asRequest(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactId", in.ContactId, 1, 256)
	c.Required("userId", in.UserId, 1, 256)
	c.Length("clientToken", in.ClientToken, 0, 500)
	if len(in.AllowedMonitorCapabilities) > 2 {
		c.Fail("1 validation error detected: Value at 'allowedMonitorCapabilities' failed to satisfy constraint: Member must have length less than or equal to 2")
	}
	for _, m := range in.AllowedMonitorCapabilities {
		c.OneOf("allowedMonitorCapabilities.member", &m, chat.MonitorSilent, chat.MonitorBarge)
	}
	if err := asRequest(c.Err()); err != nil {
		return err
	}
	obs.SetContact(r.Context(), *in.ContactId)
	if _, err := a.chat.Monitor(r.Context(), *in.InstanceId, *in.ContactId, *in.UserId, in.AllowedMonitorCapabilities, awswire.Deref(in.ClientToken)); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ ContactId, ContactArn string }{*in.ContactId, a.contactArn(*in.InstanceId, *in.ContactId)})
	return nil
}

func (a *API) contactArn(instanceID, contactID string) string {
	return fmt.Sprintf("arn:aws:connect:%s:%s:instance/%s/contact/%s", a.cfg.Region, a.cfg.AccountID, instanceID, contactID)
}

type startStreamingInput struct {
	InstanceId                 *string
	ContactId                  *string
	ChatStreamingConfiguration *struct{ StreamingEndpointArn *string }
	ClientToken                *string
}

// startContactStreaming streams a chat to the endpoint configured for an
// SNS topic ARN (PARLEY_STREAMING_ENDPOINTS).
func (a *API) startContactStreaming(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in startStreamingInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return asConnect(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactId", in.ContactId, 1, 256)
	c.Required("clientToken", in.ClientToken, 0, 500)
	if in.ChatStreamingConfiguration == nil {
		c.Fail("1 validation error detected: Value null at 'chatStreamingConfiguration' failed to satisfy constraint: Member must not be null")
	} else {
		c.Required("chatStreamingConfiguration.streamingEndpointArn", in.ChatStreamingConfiguration.StreamingEndpointArn, 1, 350)
	}
	if err := asConnect(c.Err()); err != nil {
		return err
	}
	arn := *in.ChatStreamingConfiguration.StreamingEndpointArn
	if !streaming.IsTopicARN(arn) {
		return invalidParameter("StreamingEndpointArn %s is not an Amazon SNS topic ARN.", arn)
	}
	obs.SetContact(r.Context(), *in.ContactId)
	id, err := a.chat.StartStreaming(r.Context(), *in.InstanceId, *in.ContactId, arn, *in.ClientToken)
	if chat.KindOf(err) == chat.Mismatch {
		// Its model declares no IdempotencyException.
		return invalidRequest("%s", err.Error())
	}
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{ StreamingId string }{id})
	return nil
}

type stopStreamingInput struct {
	InstanceId  *string
	ContactId   *string
	StreamingId *string
}

func (a *API) stopContactStreaming(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in stopStreamingInput
	if err := awswire.Unmarshal(body, &in); err != nil {
		return asConnect(err)
	}
	var c awswire.Checker
	c.Required("instanceId", in.InstanceId, 1, 100)
	c.Required("contactId", in.ContactId, 1, 256)
	c.Required("streamingId", in.StreamingId, 1, 100)
	if err := asConnect(c.Err()); err != nil {
		return err
	}
	obs.SetContact(r.Context(), *in.ContactId)
	if err := a.chat.StopStreaming(r.Context(), *in.InstanceId, *in.ContactId, *in.StreamingId); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	return nil
}
