package parley

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// APIError is an error the participant service returned. Each exception of
// the service is its own type embedding APIError, so that callers can tell
// them apart with errors.As:
//
//	var denied *parley.AccessDeniedException
//	if errors.As(err, &denied) { … }
type APIError struct {
	Code       string // the exception name, e.g. "ValidationException"
	Message    string
	StatusCode int
	RequestID  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d, request %s)", e.Code, e.Message, e.StatusCode, e.RequestID)
}

// The participant service's exceptions.
type (
	ValidationException           struct{ APIError }
	AccessDeniedException         struct{ APIError }
	ResourceNotFoundException     struct{ APIError }
	ConflictException             struct{ APIError }
	ServiceQuotaExceededException struct{ APIError }
	ThrottlingException           struct{ APIError }
	InternalServerException       struct{ APIError }
)

// Unwrap lets errors.As find the embedded *APIError too.
func (e *ValidationException) Unwrap() error           { return &e.APIError }
func (e *AccessDeniedException) Unwrap() error         { return &e.APIError }
func (e *ResourceNotFoundException) Unwrap() error     { return &e.APIError }
func (e *ConflictException) Unwrap() error             { return &e.APIError }
func (e *ServiceQuotaExceededException) Unwrap() error { return &e.APIError }
func (e *ThrottlingException) Unwrap() error           { return &e.APIError }
func (e *InternalServerException) Unwrap() error       { return &e.APIError }

// typedError wraps an APIError in the type of its code.
func typedError(e APIError) error {
	switch e.Code {
	case "ValidationException":
		return &ValidationException{e}
	case "AccessDeniedException":
		return &AccessDeniedException{e}
	case "ResourceNotFoundException":
		return &ResourceNotFoundException{e}
	case "ConflictException":
		return &ConflictException{e}
	case "ServiceQuotaExceededException":
		return &ServiceQuotaExceededException{e}
	case "ThrottlingException":
		return &ThrottlingException{e}
	case "InternalServerException":
		return &InternalServerException{e}
	}
	return &e
}

// errorCode reads the exception name as the AWS SDKs do: the
// X-Amzn-ErrorType header, else the body's code or __type, without any
// namespace or trailing detail.
func errorCode(h http.Header, body map[string]any) string {
	code := h.Get("X-Amzn-ErrorType")
	for _, k := range []string{"code", "Code", "__type"} {
		if code == "" {
			code, _ = body[k].(string)
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code
}

// maxAPIResponse bounds what the client reads of one API response.
const maxAPIResponse = 8 << 20

// call does one participant-service operation: a JSON request with the
// bearer token, a JSON answer or a typed error. 5xx and throttling answers
// are retried with the same body, so with the same ClientToken.
func (s *Session) call(ctx context.Context, method, path, bearer string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			delay := backoff(attempt, 200*time.Millisecond, 2*time.Second)
			if throttled(lastErr) {
				delay = throttleBackoff(attempt)
			}
			if err := sleep(ctx, delay); err != nil {
				return err
			}
		}
		retry, err := s.do(ctx, method, path, bearer, body, out)
		if err == nil || !retry {
			return err
		}
		lastErr = err
	}
	return lastErr
}

func (s *Session) do(ctx context.Context, method, path, bearer string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.endpoint+path, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Bearer", bearer)
	req.Header.Set("User-Agent", "parley-go")
	resp, err := s.http.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse))
	if err != nil {
		return true, err
	}
	if resp.StatusCode/100 == 2 {
		if d, ok := out.(dated); ok {
			d.setDate(resp.Header.Get("Date"))
		}
		if out == nil || len(raw) == 0 {
			return false, nil
		}
		return false, json.Unmarshal(raw, out)
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, decodeError(resp.StatusCode, resp.Header, raw)
}

// dated is an answer that wants the server's clock: the Date header of the
// response, to read the service's expiry times without the client's skew.
type dated interface{ setDate(string) }

// decodeError makes the typed error of a failed answer.
func decodeError(status int, h http.Header, raw []byte) error {
	var fields map[string]any
	json.Unmarshal(raw, &fields)
	e := APIError{Code: errorCode(h, fields), StatusCode: status, RequestID: h.Get("X-Amzn-RequestId")}
	for _, k := range []string{"Message", "message"} {
		if m, ok := fields[k].(string); ok && e.Message == "" {
			e.Message = m
		}
	}
	if e.Code == "" {
		e.Code = http.StatusText(status)
	}
	return typedError(e)
}

// isAccessDenied reports whether err means the chat is over for us.
func isAccessDenied(err error) bool {
	var denied *AccessDeniedException
	return errors.As(err, &denied)
}

// throttled reports whether err is the service refusing a request rate.
func throttled(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.StatusCode == http.StatusTooManyRequests || e.Code == "ThrottlingException")
}

// throttleBackoff is the wait before retry attempt of a throttled request:
// full jitter up to 2^attempt seconds, as aws-sdk-go-v2's standard
// retryer waits. A burst's retries spread over the time the service's
// token bucket needs to refill, instead of coming back together a few
// hundred milliseconds later and being refused again.
func throttleBackoff(attempt int) time.Duration {
	return time.Duration(rand.Float64() * float64(time.Second<<min(attempt, 4)))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
