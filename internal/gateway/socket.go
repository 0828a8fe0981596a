package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// The websocket itself: gobwas/ws parses and checks frame headers and
// unmasks; this file reads, writes and closes. A socket holds no buffer
// while idle: a reader borrows one from readers for as long as the
// client's bytes last, and a frame is written straight from the frame the
// hub encoded, header and payload in one writev.

// Close codes Parley sends.
const (
	statusNormal        = ws.StatusNormalClosure   // 1000: the chat ended, the URL expired
	statusGoingAway     = ws.StatusGoingAway       // 1001: the server is shutting down
	statusProtocolError = ws.StatusProtocolError   // 1002
	statusPolicy        = ws.StatusPolicyViolation // 1008: no heartbeat
	statusTooBig        = ws.StatusMessageTooBig   // 1009
	statusRestart       = ws.StatusCode(1012)      // service restart: drain
	// A socket closed for falling behind uses 1013 (try again later),
	// which ChatJS treats as a lost connection and reconnects.
	closeLagging = ws.StatusCode(1013)
)

// closeWait bounds the wait for the client's close frame after ours, as
// coder/websocket's Close did.
const closeWait = 5 * time.Second

// readBufferSize is the read buffer a socket borrows while its client's
// bytes last: clients send small control frames, often two at once.
const readBufferSize = 2 << 10

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

var errWriteClosed = errors.New("gateway: the close frame was sent")

// source reads the bytes a client sent with its upgrade request (held
// since the upgrade), then the connection.
type source struct {
	early []byte
	conn  net.Conn
}

func (r *source) Read(b []byte) (int, error) {
	if len(r.early) > 0 {
		n := copy(b, r.early)
		r.early = r.early[n:]
		if len(r.early) == 0 {
			r.early = nil
		}
		return n, nil
	}
	return r.conn.Read(b)
}

// protocolError is a client's frame that breaks RFC 6455, with the close
// code to answer it.
type protocolError struct {
	code   ws.StatusCode
	reason string
}

func (e *protocolError) Error() string { return e.reason }

// clientClosed is the close frame a client sent.
type clientClosed struct{ payload []byte }

func (clientClosed) Error() string { return "the client closed the websocket" }

// readMessage reads the client's next data message, answering the control
// frames before it. It returns a nil message (and no error) after a
// control frame when no message has begun, so that the socket can wait
// idle again.
func (s *socket) readMessage(br *bufio.Reader) ([]byte, error) {
	var msg []byte
	var hb [ws.MaxHeaderSize - 2]byte
	state := ws.StateServerSide
	for {
		h, err := ws.ReadHeaderBuffer(br, hb[:])
		if err != nil {
			return nil, err
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return nil, &protocolError{statusProtocolError, err.Error()}
		}
		if h.Length > maxFrame || int64(len(msg))+h.Length > maxFrame {
			return nil, &protocolError{statusTooBig, "The message is too big."}
		}
		p, err := readPayload(br, h.Length)
		if err != nil {
			return nil, err
		}
		ws.Cipher(p, h.Mask, 0)
		switch h.OpCode {
		case ws.OpClose:
			return nil, clientClosed{p}
		case ws.OpPing:
			if err := s.writeFrame(ws.OpPong, p); err != nil {
				return nil, err
			}
		case ws.OpPong:
		case ws.OpContinuation:
			msg = append(msg, p...)
			if h.Fin {
				return msg, nil
			}
			continue
		default: // text or binary
			if h.Fin {
				return p, nil
			}
			msg = p
			state = state.Set(ws.StateFragmented)
			continue
		}
		if !state.Fragmented() {
			return nil, nil
		}
	}
}

// readPayload reads a frame's n bytes of payload: at once up to
// readBufferSize, past it as they arrive, so that a header alone cannot make
// the socket hold the size it claims while its client sends nothing more.
func readPayload(r io.Reader, n int64) ([]byte, error) {
	if n <= readBufferSize {
		p := make([]byte, n)
		_, err := io.ReadFull(r, p)
		return p, err
	}
	p, err := io.ReadAll(io.LimitReader(r, n))
	if err == nil && int64(len(p)) < n {
		err = io.ErrUnexpectedEOF
	}
	return p, err
}

// writeFrame writes one frame, bounded by WriteTimeout. After a close
// frame nothing more is written.
func (s *socket) writeFrame(op ws.OpCode, p []byte) error {
	var hb [10]byte
	hb[0] = 0x80 | byte(op) // FIN; servers do not mask
	n := 2
	switch l := len(p); {
	case l < 126:
		hb[1] = byte(l)
	case l <= 0xffff:
		hb[1] = 126
		binary.BigEndian.PutUint16(hb[2:], uint16(l))
		n = 4
	default:
		hb[1] = 127
		binary.BigEndian.PutUint64(hb[2:], uint64(l))
		n = 10
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.wclosed {
		return errWriteClosed
	}
	if op == ws.OpClose {
		s.wclosed = true
	}
	s.conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	bufs := net.Buffers{hb[:n], p}
	_, err := bufs.WriteTo(s.conn)
	return err
}

// closeBody is a close frame's payload. A reason is cut to fit a control
// frame's 125 bytes.
func closeBody(code ws.StatusCode, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	return ws.NewCloseFrameBody(code, reason)
}

// closeReply answers a client's close frame: its code back, a normal
// close if it gave none, a protocol error if its frame is not one a client
// may send (RFC 6455, 7.4).
func closeReply(payload []byte) []byte {
	if len(payload) == 0 {
		return closeBody(statusNormal, "")
	}
	code, reason := ws.ParseCloseFrameData(payload)
	if len(payload) < 2 || ws.CheckCloseFrameData(code, reason) != nil {
		return closeBody(statusProtocolError, "Invalid close frame.")
	}
	return closeBody(code, "")
}

// rawConn is the connection's descriptor for the poller, nil if it has none
// (the socket's reader then waits in its read).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
