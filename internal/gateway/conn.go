package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
)

// Buffer sizes of one socket. net/http hands over 4 KB for reading and 4 KB
// for writing on hijack, and coder/websocket keeps them for the socket's
// life: 8 KB of an idle socket's cost. Clients send only small control
// frames, and most chat items fit in one write buffer; a larger frame takes
// one more write, not more memory.
const (
	readBufferSize  = 512
	writeBufferSize = 2 << 10
)

// hijackWriter gives coder/websocket small buffers on hijack and keeps what
// the socket needs to wait for readability without a goroutine deep in a
// read.
type hijackWriter struct {
	http.ResponseWriter
	conn *trackedConn
	br   *bufio.Reader
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &trackedConn{Conn: c}
	if brw.Reader.Buffered() > 0 {
		// The client sent bytes after its request before it was answered:
		// keep net/http's buffer, which holds them. coder/websocket puts
		// them in front of the connection, and the socket does not wait for
		// readability until the connection itself has been read.
		h.conn.early = true
		h.br = brw.Reader
	} else {
		h.br = bufio.NewReaderSize(h.conn, readBufferSize)
	}
	return h.conn, bufio.NewReadWriter(h.br, bufio.NewWriterSize(c, writeBufferSize)), nil
}

// trackedConn records whether the connection itself has been read, so that
// bytes read early (see Hijack) are never left waiting behind a wait for
// readability.
type trackedConn struct {
	net.Conn
	early   bool
	reached atomic.Bool
}

func (c *trackedConn) Read(b []byte) (int, error) {
	c.reached.Store(true)
	return c.Conn.Read(b)
}

// unread reports whether bytes the client sent may wait in memory, where a
// wait for the connection to be readable would not see them.
func (s *socket) unread() bool {
	return s.br.Buffered() > 0 || (s.netConn.early && !s.netConn.reached.Load())
}

// waitReadable blocks until the connection has bytes to read, is closed, or
// passes its read deadline. It reads nothing.
func (s *socket) waitReadable() error {
	sc, ok := s.netConn.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return waitReadable(rc)
}
