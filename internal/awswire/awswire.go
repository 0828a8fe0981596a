// Package awswire implements the parts of the AWS restJson1 protocol that
// both of Parley's APIs share: request ids, typed errors, JSON bodies,
// timestamps and input-length checks. See shared/notes/participant-api.md §2.
package awswire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/secret"
)

// Error is an error as the wire carries it: an HTTP status, the model's
// exception shape name (sent as X-Amzn-ErrorType) and a message.
type Error struct {
	Status  int
	Type    string
	Message string
	// Fields are extra members of the exception shape, e.g. ResourceId.
	Fields map[string]string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// Validation is the participant API's ValidationException.
func Validation(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, "ValidationException", format, args...)
}

// MaxBodyBytes bounds every JSON request body; the largest legal input (a
// 16384-character Content, every character escaped) is well below it.
const MaxBodyBytes = 1 << 20

// TimeFormat is the participant service's ISO-8601 timestamp with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as the participant service does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// EpochSeconds is a Connect API timestamp: restJson1 sends a JSON number of
// seconds, with milliseconds as the fraction.
type EpochSeconds time.Time

func (t EpochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return fmt.Appendf(nil, "%d.%03d", ms/1000, ms%1000), nil
}

// RequestIDHeader is x-amzn-RequestId in the form net/http writes it
// (textproto.CanonicalMIMEHeaderKey): indexing the header map with it spares
// each request the canonicalisation of "X-Amzn-RequestId", which allocates.
const RequestIDHeader = "X-Amzn-Requestid"

// RequestID returns the response's x-amzn-RequestId: the one the server's
// middleware gave the request, or a fresh one.
func RequestID(w http.ResponseWriter) string {
	h := w.Header()
	if v := h[RequestIDHeader]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	id := secret.NewUUID()
	h[RequestIDHeader] = []string{id}
	return id
}

// Header values every response shares. The slices are never changed in
// place (Header.Add appends past their length, onto a copy), so one serves
// every request instead of a new one each.
var (
	jsonContentType = []string{"application/json"}
	corsOrigin      = []string{"*"}
	corsExpose      = []string{"x-amzn-RequestId, x-amzn-ErrorType, x-amz-apigw-id, Content-Length, ETag"}
)

// WriteJSON writes a 200 response with v as its body.
func WriteJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, nil, err)
		return
	}
	WriteJSONBytes(w, b)
}

// WriteJSONBytes writes a 200 response whose body b is JSON already.
func WriteJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// WriteError writes err in the AWS shape. An *Error in err's chain is sent as
// it is; anything else is logged and sent as an internal error whose shape
// name is internalType (InternalServerException or InternalServiceException).
func WriteError(w http.ResponseWriter, log *slog.Logger, err error, internalType ...string) {
	var e *Error
	if !errors.As(err, &e) {
		typ := "InternalServerException"
		if len(internalType) > 0 {
			typ = internalType[0]
		}
		if log != nil {
			// The writer knows the request's id; the log line carries it.
			log.Error("internal error", "err", err, "request_id", w.Header().Get(RequestIDHeader))
		}
		e = Errorf(http.StatusInternalServerError, typ, "An internal error occurred; the request may be retried.")
	}
	body := map[string]string{"Message": e.Message}
	for k, v := range e.Fields {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(e.Status)
	w.Write(b)
}

// UnknownRoute answers a request that matches no operation, as both of
// Connect's APIs answer it. They sit behind Amazon API Gateway (their
// answers carry x-amz-apigw-id), and API Gateway answers a path or method
// that matches no deployed resource with 403 and the error type
// MissingAuthenticationTokenException, "Missing Authentication Token",
// before it checks any credentials (AWS Knowledge Center, "How do I
// troubleshoot API Gateway REST API endpoint 403 Missing Authentication
// Token errors?": "The API request is made to a method or resource that
// doesn't exist"). UnknownOperationException is the answer of the awsJson
// services that route by X-Amz-Target, which these are not. Every SDK
// decodes the shape: a generic service error with that code and status.
func UnknownRoute(w http.ResponseWriter, r *http.Request) {
	RequestID(w)
	WriteError(w, nil, Errorf(http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"))
}

// DecodeJSON reads a JSON request body into v. An empty body decodes as {}.
// Syntax and type errors become a ValidationException.
func DecodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return Validation("Request body is larger than %d bytes.", MaxBodyBytes)
		}
		return Validation("Could not read the request body.")
	}
	return Unmarshal(body, v)
}

// Unmarshal decodes a JSON body (empty means {}) into v.
func Unmarshal(body []byte, v any) error {
	// Only JSON's own whitespace makes an empty body (strings.TrimSpace
	// would also take \v, \f and Unicode spaces, which are not JSON).
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return nil
	}
	// encoding/json would put U+FFFD in place of bytes that are not UTF-8;
	// such a body is not JSON (RFC 8259 §8.1), and no SDK sends one.
	if !utf8.Valid(body) {
		return Validation("The request body is not valid JSON: it is not UTF-8.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return Validation("Invalid value for %s: expected %s.", typeErr.Field, jsonKind(typeErr.Type))
		}
		return Validation("The request body is not valid JSON.")
	}
	return nil
}

// jsonKind says what JSON a Go type decodes from, for an error message:
// the Go type itself (int64, an anonymous struct, a store type) would show
// the caller Parley's internals rather than the model's terms.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if bits := t.Bits(); bits < 64 {
			return fmt.Sprintf("an integer from %d to %d", -1<<(bits-1), 1<<(bits-1)-1)
		}
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another type"
}

// Checker collects the first constraint violation of a request, worded the
// way AWS words them.
type Checker struct{ err *Error }

// Err returns the first violation, or nil.
func (c *Checker) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Fail records a violation unless one is recorded already.
func (c *Checker) Fail(format string, args ...any) {
	if c.err == nil {
		c.err = Validation(format, args...)
	}
}

// Required checks that a required string member is present and within
// [min, max] characters.
func (c *Checker) Required(name string, v *string, min, max int) {
	if v == nil {
		c.Fail("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)
		return
	}
	c.Length(name, v, min, max)
}

// Length checks an optional string member's length in characters.
func (c *Checker) Length(name string, v *string, min, max int) {
	if v == nil {
		return
	}
	n := utf8.RuneCountInString(*v)
	if n < min || n > max {
		c.Fail("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between %d and %d", name, min, max)
	}
}

// Range checks an optional integer member.
func (c *Checker) Range(name string, v *int64, min, max int64) {
	if v != nil && (*v < min || *v > max) {
		c.Fail("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between %d and %d", *v, name, min, max)
	}
}

// Min checks an optional integer member that has only a lower bound.
func (c *Checker) Min(name string, v *int64, min int64) {
	if v != nil && *v < min {
		c.Fail("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", *v, name, min)
	}
}

// OneOf checks an optional enum member.
func (c *Checker) OneOf(name string, v *string, allowed ...string) {
	if v == nil {
		return
	}
	for _, a := range allowed {
		if *v == a {
			return
		}
	}
	c.Fail("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", *v, name, strings.Join(allowed, ", "))
}

// Deref returns *p, or the zero value for nil.
func Deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CORS lets browser pages on any origin call h, as ChatJS does from a
// customer's site: authentication is the bearer token, never a cookie. It
// answers preflights itself, allowing whatever headers the page asks for
// (the AWS SDK sends Authorization, which a "*" would not cover), and exposes
// the headers the SDKs read errors and request ids from.
func CORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Access-Control-Allow-Origin"] = corsOrigin
		hd["Access-Control-Expose-Headers"] = corsExpose
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hd.Set("Access-Control-Allow-Headers", req)
			}
			hd.Set("Access-Control-Max-Age", "86400")
			hd.Add("Vary", "Access-Control-Request-Headers")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
