package netlimit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// ErrSlowBody is what reading a body returns once it arrives too slowly.
var ErrSlowBody = errors.New("the request body arrived too slowly")

// BodyDeadline gives every request body d to arrive in full: a client that
// sends headers and then trickles (or withholds) its body loses the
// connection after d instead of holding it forever. Handlers that stream
// large bodies replace the deadline with MinRate.
func BodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && d > 0 {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				// On a copy: the server must still see its own body type in
				// the original, or after a handler that answers without
				// reading (a forged token) it would wait to read the body
				// before sending the answer.
				r = r.WithContext(r.Context())
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody clears the read deadline once the body is read: the server
// then reads the connection in the background to notice a client that goes
// away, and a deadline passing there would cancel the request's context.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.clear()
	case isTimeout(err):
		// The deadline stays: the server's attempt to read the rest of the
		// body, to reuse the connection, fails at once and it closes.
		err = ErrSlowBody
	}
	return n, err
}

func (b *deadlineBody) clear() {
	if !b.cleared {
		b.cleared = true
		b.rc.SetReadDeadline(time.Time{})
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// ErrInterrupted is what reading a body returns after Interrupt.
var ErrInterrupted = errors.New("the request was interrupted")

// MinRate makes r's body fail unless at least rate bytes a second arrive,
// averaged over each window: every rate×window bytes move the read
// deadline a window further. It suits uploads, which may rightly take
// longer than any fixed deadline; rate 0 lifts the deadline altogether.
// The body it installs has an Interrupt method that makes a blocked read
// return ErrInterrupted. It returns the request to read instead of r (a
// copy, for the reason BodyDeadline gives).
func MinRate(w http.ResponseWriter, r *http.Request, rate int64, window time.Duration) (*http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return r, nil
	}
	b := &rateBody{ReadCloser: r.Body, rc: http.NewResponseController(w), window: window,
		slow: fmt.Errorf("%w: under %d bytes a second over %s", ErrSlowBody, rate, window)}
	if rate > 0 && window > 0 {
		b.quota = max(1, rate*int64(window/time.Millisecond)/1000)
	}
	if err := b.extend(); err != nil {
		return r, err
	}
	r = r.WithContext(r.Context())
	r.Body = b
	return r, nil
}

type rateBody struct {
	io.ReadCloser
	rc          *http.ResponseController
	quota       int64 // bytes each window must bring; 0: no minimum
	got         int64 // bytes so far in this window
	window      time.Duration
	slow        error
	done        bool
	interrupted atomic.Bool
}

func (b *rateBody) extend() error {
	if b.quota == 0 {
		return b.rc.SetReadDeadline(time.Time{})
	}
	return b.rc.SetReadDeadline(time.Now().Add(b.window))
}

// Interrupt makes the body's pending and future reads fail with
// ErrInterrupted. It is safe to call from another goroutine.
func (b *rateBody) Interrupt() {
	b.interrupted.Store(true)
	b.rc.SetReadDeadline(time.Now())
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.interrupted.Load() {
		return 0, ErrInterrupted
	}
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	if b.quota > 0 && b.got >= b.quota && err == nil && !b.interrupted.Load() {
		b.got = 0
		b.extend()
	}
	switch {
	case b.interrupted.Load() && err != nil && err != io.EOF:
		err = ErrInterrupted
	case err == io.EOF && !b.done:
		b.done = true
		b.rc.SetReadDeadline(time.Time{}) // see deadlineBody
	case isTimeout(err) || errors.Is(err, ErrSlowBody):
		err = b.slow // the deadline stays, as in deadlineBody
	}
	return n, err
}
