package obs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/parleychat/parley/internal/secret"
)

// Operations names the routes by the API operation they serve, for the
// access log and the metrics' operation label. A route not listed is named
// by its pattern, which is as bounded: patterns are fixed in the code.
var Operations = map[string]string{
	"POST /participant/connection":                                                 "CreateParticipantConnection",
	"POST /participant/message":                                                    "SendMessage",
	"POST /participant/event":                                                      "SendEvent",
	"POST /participant/transcript":                                                 "GetTranscript",
	"POST /participant/disconnect":                                                 "DisconnectParticipant",
	"POST /participant/start-attachment-upload":                                    "StartAttachmentUpload",
	"POST /participant/complete-attachment-upload":                                 "CompleteAttachmentUpload",
	"POST /participant/attachment":                                                 "GetAttachment",
	"GET /participant/views/{ViewToken}":                                           "DescribeView",
	"POST /participant/authentication-url":                                         "GetAuthenticationUrl",
	"POST /participant/cancel-authentication":                                      "CancelParticipantAuthentication",
	"PUT /contact/chat":                                                            "StartChatContact",
	"POST /contact/stop":                                                           "StopContact",
	"POST /contact/create-participant":                                             "CreateParticipant",
	"GET /contacts/{InstanceId}/{ContactId}":                                       "DescribeContact",
	"PUT /contact/participant-role-config/{InstanceId}/{ContactId}":                "UpdateParticipantRoleConfig",
	"GET /attached-files-configurations/{InstanceId}/{AttachmentScope}":            "DescribeAttachedFilesConfiguration",
	"POST /attached-files-configurations/{InstanceId}/{AttachmentScope}":           "UpdateAttachedFilesConfiguration",
	"GET /contact/attributes/{InstanceId}/{InitialContactId}":                      "GetContactAttributes",
	"POST /contact/attributes":                                                     "UpdateContactAttributes",
	"POST /contact/persistent-contact-association/{InstanceId}/{InitialContactId}": "CreatePersistentContactAssociation",
	"POST /contact/transfer":                                                       "TransferContact",
	"POST /contact/monitor":                                                        "MonitorContact",
	"POST /contact/start-streaming":                                                "StartContactStreaming",
	"POST /contact/stop-streaming":                                                 "StopContactStreaming",
	"/":                                                                            "UnknownRoute",
	"/participant/":                                                                "UnknownRoute",
	"GET /ws/v1/connect":                                                           "Websocket",
	"PUT /attachments/{id}":                                                        "UploadAttachment",
	"GET /attachments/{id}":                                                        "DownloadAttachment",
	"GET /attachments/{id}/thumbnail":                                              "DownloadThumbnail",
	"POST /widget/v1/chats":                                                        "WidgetStartChat",
	"GET /admin/v1/export":                                                         "AdminExport",
	"POST /admin/v1/contacts/{ContactId}/erase":                                    "AdminErase",
	"GET /metrics":                                                                 "Metrics",
	"GET /healthz":                                                                 "Healthz",
	"GET /readyz":                                                                  "Readyz",
}

// operation names the route a request matched.
func operation(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if op, ok := Operations[pattern]; ok {
		return op
	}
	return pattern
}

// quiet routes are served without an access-log line: probes and scrapes
// would drown the rest.
var quiet = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// Middleware gives every request an id (sent as x-amzn-RequestId, and on
// every log line logged with the request's context), writes one access-log
// line per request and counts it in m. The line names the operation, the
// status, the duration, the bytes sent and the contact, never the URL's
// query (signed URLs carry their signature there), a header or a body.
func Middleware(next http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	auth := &limiter{n: 10, window: time.Minute}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &Info{ID: secret.NewUUID()}
		// x-amzn-RequestId, by its canonical key (awswire.RequestIDHeader):
		// Set would canonicalise it anew, an allocation every request.
		w.Header()["X-Amzn-Requestid"] = []string{info.ID}
		rw := &responseWriter{ResponseWriter: w, status: http.StatusOK, id: info.ID}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		defer func() {
			// http.ServeMux sets the pattern on the request it was given.
			info.Operation = operation(r.Pattern)
			status := rw.status
			if v := recover(); v != nil {
				var abort any
				if status, abort = rw.recovered(r.Context(), log, v); abort != nil {
					defer panic(abort) // after the access-log line
				}
			}
			d := time.Since(start)
			m.request(info.Operation, status, d)
			if status == http.StatusUnauthorized || status == http.StatusForbidden {
				m.authFailure(info.Operation)
				if ok, skipped := auth.allow(time.Now()); ok {
					log.WarnContext(r.Context(), "authentication failed", "op", info.Operation, "status", status,
						"error", rw.Header().Get("X-Amzn-ErrorType"), "remote", remoteIP(r), "skipped_before", skipped)
				}
			}
			if quiet[r.Pattern] && status < 500 {
				return
			}
			// One line per request is on every hot path: typed attributes
			// spare boxing each value into an any, and the record is made
			// here, as slog's documentation shows for wrappers, because
			// Logger.LogAttrs looks up its caller's PC for every line
			// (runtime.Callers), which the access line never shows.
			ctx := r.Context()
			if !log.Enabled(ctx, slog.LevelInfo) {
				return
			}
			attrs := [7]slog.Attr{slog.String("op", info.Operation), slog.String("method", r.Method), slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Int64("bytes", rw.bytes), slog.String("remote", remoteIP(r))}
			n := 6
			if c := info.contactID(); c != "" {
				attrs[n] = slog.String("contact", c)
				n++
			}
			rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
			rec.AddAttrs(attrs[:n]...)
			log.Handler().Handle(ctx, rec)
		}()
		next.ServeHTTP(rw, r)
	})
}

// recovered answers a request whose handler panicked with v, and returns
// the status the access log and the metrics count, and what to panic with
// once they are done, if anything. Before any of the answer was written, it
// is a 500 with generic text, as for any server fault (the panic and its
// stack go to the log, never to the client); after, the answer can only be
// cut short: the connection is dropped (status 0).
func (w *responseWriter) recovered(ctx context.Context, log *slog.Logger, v any) (status int, abort any) {
	if v == http.ErrAbortHandler { // a deliberate abort: net/http drops it quietly
		return 0, v
	}
	log.ErrorContext(ctx, "handler panicked", "panic", v, "stack", string(debug.Stack()))
	if w.wroteHeader {
		return 0, http.ErrAbortHandler
	}
	h := w.Header()
	for k := range h {
		if k != "X-Amzn-Requestid" {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", "InternalServerException")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write([]byte(`{"Message":"An internal error occurred; the request may be retried."}`))
	return http.StatusInternalServerError, nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// responseWriter records the status and size of a response. It passes on
// what net/http and the websocket library look for: Flush, Hijack, and
// ReadFrom, through which downloads are sent with sendfile(2).
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	id          string
}

// RequestID is the request's id, for code that has only the writer.
func (w *responseWriter) RequestID() string { return w.id }

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wroteHeader = true
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.bytes += n
	return n, err
}

func (w *responseWriter) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("obs: the connection cannot be hijacked")
	}
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	}
	return h.Hijack()
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
