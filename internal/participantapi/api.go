// Package participantapi serves the Amazon Connect Participant Service API
// (restJson1, authenticated by X-Amz-Bearer; any SigV4 signature is ignored,
// as the real service ignores it).
package participantapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/netlimit"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/quota"
	"github.com/parleychat/parley/internal/realip"
	"github.com/parleychat/parley/internal/views"
)

// API is the participant service.
type API struct {
	chat     *chat.Service
	views    views.Catalog
	log      *slog.Logger
	limits   Limits
	throttle *quota.Limiter
}

// Throttled makes the service apply Connect's request rates per operation
// (PARLEY_THROTTLE=connect); l may be nil for none.
func (a *API) Throttled(l *quota.Limiter) *API {
	a.throttle = l
	return a
}

// Limits are the request rates the service allows; a nil limiter allows
// everything.
type Limits struct {
	// Participant limits each participant's calls to each operation.
	Participant *netlimit.Limiter
	// Client limits all calls from one client address (netlimit.Exempt
	// addresses excepted; an IPv6 client is its /64).
	Client *netlimit.Limiter
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (PARLEY_TRUSTED_PROXIES), as for the widget.
	TrustedProxies []netip.Prefix
}

// New returns the participant service over svc.
func New(svc *chat.Service, catalog views.Catalog, log *slog.Logger, limits Limits) *API {
	return &API{chat: svc, views: catalog, log: log, limits: limits}
}

// Register adds the participant routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("POST /participant/connection", a.op("CreateParticipantConnection", byParticipantToken, a.createParticipantConnection))
	mux.Handle("POST /participant/message", a.op("SendMessage", byConnectionTokenCached, a.sendMessage))
	mux.Handle("POST /participant/event", a.op("SendEvent", byConnectionToken, a.sendEvent))
	mux.Handle("POST /participant/transcript", a.op("GetTranscript", byConnectionToken, a.getTranscript))
	mux.Handle("POST /participant/disconnect", a.op("DisconnectParticipant", byConnectionToken, a.disconnectParticipant))
	mux.Handle("POST /participant/start-attachment-upload", a.op("StartAttachmentUpload", byConnectionToken, a.startAttachmentUpload))
	mux.Handle("POST /participant/complete-attachment-upload", a.op("CompleteAttachmentUpload", byConnectionToken, a.completeAttachmentUpload))
	mux.Handle("POST /participant/attachment", a.op("GetAttachment", byConnectionToken, a.getAttachment))
	mux.Handle("GET /participant/views/{ViewToken}", a.op("DescribeView", byConnectionToken, a.describeView))
	mux.Handle("POST /participant/authentication-url", a.op("GetAuthenticationUrl", byConnectionToken, a.getAuthenticationURL))
	mux.Handle("POST /participant/cancel-authentication", a.op("CancelParticipantAuthentication", byConnectionToken, a.cancelParticipantAuthentication))
	mux.Handle("OPTIONS /participant/", awswire.CORS(http.NotFoundHandler()))
	mux.Handle("/participant/", awswire.CORS(http.HandlerFunc(awswire.UnknownRoute)))
}

// auth says which token an operation's X-Amz-Bearer carries.
type auth int

const (
	byConnectionToken  auth = iota // resolved to a session before the handler runs
	byParticipantToken             // passed to the handler as it is (sess is nil)
	// byConnectionTokenCached is byConnectionToken with a session that may
	// come from memory and be stale (chat.AuthenticateCached): for
	// SendMessage alone, the hot path, which knows how to use one.
	byConnectionTokenCached
)

// handler runs an operation; sess is nil for byParticipantToken operations.
type handler func(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error

// errThrottled is Connect's answer to a caller over its rate, which the
// SDKs retry with backoff.
var errThrottled = awswire.Errorf(http.StatusTooManyRequests, "ThrottlingException", "Rate exceeded")

// op wraps a handler with what every operation shares: CORS, the request
// id, the client address's rate limit, authentication, the participant's
// rate limit and reading the body, in that order, so that a caller over its
// rate or without a valid token is refused before its body is read; and
// writing errors in the service's shape.
func (a *API) op(name string, how auth, h handler) http.Handler {
	return awswire.CORS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		awswire.RequestID(w)
		if err := a.serve(w, r, name, how, h); err != nil {
			awswire.WriteError(w, a.log, toWire(err))
		}
	}))
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, name string, how auth, h handler) error {
	if addr := realip.From(r, a.limits.TrustedProxies); !netlimit.Exempt(addr) && !a.limits.Client.Allow(realip.Key(addr)) {
		return errThrottled
	}
	if !a.throttle.Allow(a.chat.InstanceID(), name) {
		return errThrottled // Connect's per-instance rates, when asked for
	}
	token, err := bearer(r)
	if err != nil {
		return err
	}
	var sess *chat.Session
	var participant string
	switch how {
	case byParticipantToken:
		participant, err = a.chat.ParticipantID(r.Context(), token)
	case byConnectionTokenCached:
		sess, err = a.chat.AuthenticateCached(r.Context(), token)
	default:
		sess, err = a.chat.Authenticate(r.Context(), token)
	}
	if sess != nil {
		participant = sess.Participant.ID // neither changes: a stale session's will do
		obs.SetContact(r.Context(), sess.Contact.ID)
	}
	if err != nil {
		return err
	}
	if !a.limits.Participant.Allow(participant + " " + name) {
		return errThrottled
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, awswire.MaxBodyBytes))
	if err != nil {
		return awswire.Validation("Could not read the request body (at most %d bytes).", awswire.MaxBodyBytes)
	}
	return h(w, r, body, sess)
}

// bearer returns the X-Amz-Bearer token, checked against the model's bounds.
func bearer(r *http.Request) (string, error) {
	t := r.Header.Get("X-Amz-Bearer")
	if t == "" || utf8.RuneCountInString(t) > 1000 {
		return "", awswire.Errorf(http.StatusForbidden, "AccessDeniedException", "A valid X-Amz-Bearer token is required.")
	}
	return t, nil
}

// toWire maps domain errors to the participant service's exception shapes.
func toWire(err error) error {
	var e *chat.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Kind {
	case chat.Invalid:
		return awswire.Validation("%s", e.Message)
	case chat.NotFound:
		return awswire.Errorf(http.StatusNotFound, "ResourceNotFoundException", "%s", e.Message)
	case chat.AccessDenied, chat.Ended:
		return awswire.Errorf(http.StatusForbidden, "AccessDeniedException", "%s", e.Message)
	case chat.Conflict:
		return awswire.Errorf(http.StatusConflict, "ConflictException", "%s", e.Message)
	case chat.QuotaExceeded:
		return awswire.Errorf(http.StatusPaymentRequired, "ServiceQuotaExceededException", "%s", e.Message)
	}
	return err
}

type websocketOut struct {
	Url              string
	ConnectionExpiry string
}

type credentialsOut struct {
	ConnectionToken string
	Expiry          string
}

type connectionOut struct {
	Websocket             *websocketOut   `json:",omitempty"`
	ConnectionCredentials *credentialsOut `json:",omitempty"`
}

func (a *API) createParticipantConnection(w http.ResponseWriter, r *http.Request, body []byte, _ *chat.Session) error {
	token, err := bearer(r)
	if err != nil {
		return err
	}
	in, err := decodeConnection(body)
	if err != nil {
		return err
	}
	var ws, creds bool
	for _, t := range in.Type {
		switch t {
		case "WEBSOCKET":
			ws = true
		case "CONNECTION_CREDENTIALS":
			creds = true
		case "WEBRTC_CONNECTION":
			return awswire.Validation("WEBRTC_CONNECTION is not available: Parley serves chat contacts only.")
		}
	}
	conn, err := a.chat.Connect(r.Context(), token, ws, creds, awswire.Deref(in.ConnectParticipant))
	if err != nil {
		return err
	}
	var out connectionOut
	if ws {
		out.Websocket = &websocketOut{Url: conn.WebsocketURL, ConnectionExpiry: awswire.FormatTime(conn.WebsocketExpiry)}
	}
	if creds {
		out.ConnectionCredentials = &credentialsOut{ConnectionToken: conn.ConnectionToken, Expiry: awswire.FormatTime(conn.TokenExpiry)}
	}
	awswire.WriteJSON(w, out)
	return nil
}

type itemOut struct {
	Id           string
	AbsoluteTime string
}

// writeItem answers with itemOut{id, at}, as WriteJSON would: SendMessage
// and SendEvent answer every message and event with it, so it is written
// without json.Marshal's reflection when the id needs no escaping (it is
// a UUID; the time never does).
func writeItem(w http.ResponseWriter, id string, at time.Time) {
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			awswire.WriteJSON(w, itemOut{Id: id, AbsoluteTime: awswire.FormatTime(at)})
			return
		}
	}
	b := make([]byte, 0, len(id)+64)
	b = append(append(append(b, `{"Id":"`...), id...), `","AbsoluteTime":"`...)
	b = append(at.UTC().AppendFormat(b, awswire.TimeFormat), `"}`...)
	awswire.WriteJSONBytes(w, b)
}

func (a *API) sendMessage(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeSendMessage(body)
	if err != nil {
		return err
	}
	it, err := a.chat.SendMessage(r.Context(), sess, *in.ContentType, *in.Content, awswire.Deref(in.ClientToken))
	if err != nil {
		return err
	}
	writeItem(w, it.ID, it.Time)
	return nil
}

func (a *API) sendEvent(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeSendEvent(body)
	if err != nil {
		return err
	}
	it, err := a.chat.SendEvent(r.Context(), sess, *in.ContentType, awswire.Deref(in.Content), awswire.Deref(in.ClientToken))
	if err != nil {
		return err
	}
	writeItem(w, it.ID, it.Time)
	return nil
}

type transcriptOut struct {
	InitialContactId string
	Transcript       []chatwire.Item
	NextToken        string `json:",omitempty"`
}

func (a *API) getTranscript(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeTranscript(body)
	if err != nil {
		return err
	}
	q := chat.TranscriptQuery{
		ContactID:     awswire.Deref(in.ContactId),
		MaxResults:    int(awswire.Deref(in.MaxResults)),
		NextToken:     awswire.Deref(in.NextToken),
		ScanDirection: awswire.Deref(in.ScanDirection),
		SortOrder:     awswire.Deref(in.SortOrder),
	}
	if sp := in.StartPosition; sp != nil {
		q.StartID = awswire.Deref(sp.Id)
		q.StartTime = in.startTime
		if sp.MostRecent != nil {
			n := int(*sp.MostRecent)
			q.MostRecent = &n
		}
	}
	page, err := a.chat.Transcript(r.Context(), sess, q)
	if err != nil {
		return err
	}
	out := transcriptOut{InitialContactId: page.InitialContactID, Transcript: []chatwire.Item{}, NextToken: page.NextToken}
	for _, it := range page.Items {
		out.Transcript = append(out.Transcript, chatwire.FromStore(it).InSession(sess.Contact.ID))
	}
	awswire.WriteJSON(w, out)
	return nil
}

func (a *API) disconnectParticipant(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeDisconnect(body)
	if err != nil {
		return err
	}
	if err := a.chat.Disconnect(r.Context(), sess, awswire.Deref(in.ClientToken)); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	return nil
}

type uploadMetadataOut struct {
	Url              string
	UrlExpiry        string
	HeadersToInclude map[string]string
}

func (a *API) startAttachmentUpload(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeStartUpload(body)
	if err != nil {
		return err
	}
	t, err := a.chat.StartUpload(r.Context(), sess, *in.AttachmentName, *in.ContentType, *in.AttachmentSizeInBytes, *in.ClientToken)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct {
		AttachmentId   string
		UploadMetadata uploadMetadataOut
	}{t.AttachmentID, uploadMetadataOut{Url: t.URL, UrlExpiry: awswire.FormatTime(t.Expiry), HeadersToInclude: t.Headers}})
	return nil
}

func (a *API) completeAttachmentUpload(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeCompleteUpload(body)
	if err != nil {
		return err
	}
	// As on Connect, the answer comes before the verdict's ATTACHMENT item:
	// the checks announce nothing until answered is closed, once the answer
	// is on the wire (ChatJS's widget otherwise keeps a stale "Sending" copy).
	answered := make(chan struct{})
	defer close(answered)
	if err := a.chat.CompleteUpload(r.Context(), sess, in.AttachmentIds[0], *in.ClientToken, answered); err != nil {
		return err
	}
	awswire.WriteJSON(w, struct{}{})
	http.NewResponseController(w).Flush()
	return nil
}

func (a *API) getAttachment(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeGetAttachment(body)
	if err != nil {
		return err
	}
	url, expires, size, err := a.chat.GetAttachment(r.Context(), sess, *in.AttachmentId, time.Duration(awswire.Deref(in.UrlExpiryInSeconds))*time.Second)
	if err != nil {
		return err
	}
	awswire.WriteJSON(w, struct {
		Url                   string
		UrlExpiry             string
		AttachmentSizeInBytes int64
	}{url, awswire.FormatTime(expires), size})
	return nil
}

func (a *API) describeView(w http.ResponseWriter, r *http.Request, _ []byte, sess *chat.Session) error {
	token := r.PathValue("ViewToken")
	var c awswire.Checker
	c.Required("viewToken", &token, 1, 1000)
	if err := c.Err(); err != nil {
		return err
	}
	if err := a.chat.Usable(r.Context(), sess); err != nil {
		return err
	}
	v, ok := a.views[token]
	if !ok {
		return awswire.Errorf(http.StatusNotFound, "ResourceNotFoundException", "View %s not found.", token)
	}
	awswire.WriteJSON(w, struct{ View views.View }{v})
	return nil
}

// errNoAuthentication answers the participant-authentication operations:
// they continue an authentication a flow's "Authenticate Customer" block
// started through an identity provider, and Parley has neither, so no
// SessionId can ever be valid.
func errNoAuthentication(sessionID string) error {
	return awswire.Validation("No participant authentication %s is in progress: this Parley instance has no identity provider configured.", sessionID)
}

func (a *API) getAuthenticationURL(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeAuthURL(body)
	if err != nil {
		return err
	}
	if err := a.chat.Usable(r.Context(), sess); err != nil {
		return err
	}
	return errNoAuthentication(*in.SessionId)
}

func (a *API) cancelParticipantAuthentication(w http.ResponseWriter, r *http.Request, body []byte, sess *chat.Session) error {
	in, err := decodeCancelAuth(body)
	if err != nil {
		return err
	}
	if err := a.chat.Usable(r.Context(), sess); err != nil {
		return err
	}
	return errNoAuthentication(*in.SessionId)
}
