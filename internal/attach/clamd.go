package attach

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Clamd scans through a clamd daemon's INSTREAM command (clamd(8)):
// "zINSTREAM\0", then chunks each prefixed by its length as a 4-byte
// big-endian number, then a zero-length chunk; clamd answers
// "stream: OK" or "stream: <signature> FOUND".
type Clamd struct {
	// Addr is host:port for TCP, or unix:/path for a socket file.
	Addr string
	// Timeout bounds one scan; Connect gives its scanner 60 s.
	Timeout time.Duration
}

const clamdChunk = 32 << 10

var _ Scanner = (*Clamd)(nil)

func (c *Clamd) dial(ctx context.Context) (net.Conn, error) {
	network, addr := "tcp", c.Addr
	if rest, ok := strings.CutPrefix(c.Addr, "unix:"); ok {
		network, addr = "unix", rest
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScannerUnavailable, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	return conn, nil
}

// Scan streams r to clamd.
func (c *Clamd) Scan(ctx context.Context, r io.Reader) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	w := bufio.NewWriterSize(conn, clamdChunk+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return "", err
	}
	buf := make([]byte, clamdChunk)
	var size [4]byte
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			binary.BigEndian.PutUint32(size[:], uint32(n))
			w.Write(size[:])
			if _, err := w.Write(buf[:n]); err != nil {
				return "", c.replyOr(conn, err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return "", rerr
		}
	}
	binary.BigEndian.PutUint32(size[:], 0)
	w.Write(size[:])
	if err := w.Flush(); err != nil {
		return "", c.replyOr(conn, err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return "", err
	}
	return parseReply(reply)
}

// replyOr prefers clamd's own explanation (e.g. a size limit) over the
// write error it caused by closing the connection.
func (c *Clamd) replyOr(conn net.Conn, err error) error {
	if reply, rerr := readReply(conn); rerr == nil && reply != "" {
		_, perr := parseReply(reply)
		return perr
	}
	return err
}

func readReply(conn net.Conn) (string, error) {
	reply, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadString(0)
	if err != nil && reply == "" {
		return "", err
	}
	return strings.TrimRight(reply, "\x00\n"), nil
}

// parseReply turns a clamd answer into a finding or an error.
func parseReply(reply string) (string, error) {
	body := strings.TrimPrefix(reply, "stream: ")
	switch {
	case body == "OK":
		return "", nil
	case strings.HasSuffix(body, " FOUND"):
		return strings.TrimSuffix(body, " FOUND"), nil
	}
	return "", fmt.Errorf("clamd: %s", reply)
}

// Ping checks that clamd answers.
func (c *Clamd) Ping(ctx context.Context) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	reply, err := readReply(conn)
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("clamd answered PING with %q", reply)
	}
	return nil
}
