package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/chat"
)

// recorder is a connection that keeps what is written to it.
type recorder struct {
	net.Conn
	out bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error)      { return r.out.Write(b) }
func (r *recorder) SetWriteDeadline(time.Time) error { return nil }

// masked is a client frame: masked, with the given FIN and opcode.
func masked(fin bool, op ws.OpCode, payload string) []byte {
	var b bytes.Buffer
	p := []byte(payload)
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: true, Mask: [4]byte{7, 1, 9, 3}}
	ws.WriteHeader(&b, h)
	ws.Cipher(p, h.Mask, 0)
	b.Write(p)
	return b.Bytes()
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// TestReadMessage: the frame reader returns whole messages, answers pings
// (also between a message's fragments), returns after a lone control frame
// so that the socket can wait idle again, and refuses what RFC 6455 forbids
// with the close code to send.
func TestReadMessage(t *testing.T) {
	unmasked := []byte{0x81, 2, 'h', 'i'}
	rsv := masked(true, ws.OpText, "x")
	rsv[0] |= 0x40
	big := strings.Repeat("a", maxFrame/2+1)
	tests := []struct {
		name   string
		in     []byte
		msg    string
		nilMsg bool          // no message: a control frame alone
		pong   string        // the pong written, if any
		code   ws.StatusCode // the protocol error's close code, if any
		closed bool          // the client's close frame
	}{
		{name: "text", in: masked(true, ws.OpText, `{"topic":"aws/heartbeat"}`), msg: `{"topic":"aws/heartbeat"}`},
		{name: "fragments", in: cat(masked(false, ws.OpText, "ab"), masked(false, ws.OpContinuation, "cd"), masked(true, ws.OpContinuation, "e")), msg: "abcde"},
		{name: "ping alone", in: masked(true, ws.OpPing, "p1"), nilMsg: true, pong: "p1"},
		{name: "pong alone", in: masked(true, ws.OpPong, ""), nilMsg: true},
		{name: "ping between fragments", in: cat(masked(false, ws.OpText, "ab"), masked(true, ws.OpPing, "p2"), masked(true, ws.OpContinuation, "c")), msg: "abc", pong: "p2"},
		{name: "close", in: masked(true, ws.OpClose, string(ws.NewCloseFrameBody(1000, "bye"))), closed: true},
		{name: "unmasked", in: unmasked, code: statusProtocolError},
		{name: "reserved bits", in: rsv, code: statusProtocolError},
		{name: "continuation first", in: masked(true, ws.OpContinuation, "x"), code: statusProtocolError},
		{name: "text inside a message", in: cat(masked(false, ws.OpText, "a"), masked(true, ws.OpText, "b")), code: statusProtocolError},
		{name: "fragmented ping", in: masked(false, ws.OpPing, "x"), code: statusProtocolError},
		{name: "frame too big", in: masked(true, ws.OpText, strings.Repeat("a", maxFrame+1)), code: statusTooBig},
		{name: "message too big", in: cat(masked(false, ws.OpText, big), masked(true, ws.OpContinuation, big)), code: statusTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			s := &socket{conn: rec}
			msg, err := s.readMessage(bufio.NewReader(bytes.NewReader(tt.in)))
			var pe *protocolError
			var cc clientClosed
			switch {
			case tt.code != 0:
				if !errors.As(err, &pe) || pe.code != tt.code {
					t.Fatalf("got %q, %v; want close code %d", msg, err, tt.code)
				}
			case tt.closed:
				if !errors.As(err, &cc) {
					t.Fatalf("got %q, %v; want the client's close", msg, err)
				}
				if code, reason := ws.ParseCloseFrameData(cc.payload); code != 1000 || reason != "bye" {
					t.Errorf("close frame %d %q", code, reason)
				}
			case err != nil:
				t.Fatal(err)
			case tt.nilMsg && msg != nil, !tt.nilMsg && string(msg) != tt.msg:
				t.Errorf("message %q, want %q", msg, tt.msg)
			}
			var want []byte
			if tt.pong != "" {
				want = append([]byte{0x8a, byte(len(tt.pong))}, tt.pong...)
			}
			if !bytes.Equal(rec.out.Bytes(), want) {
				t.Errorf("wrote % x, want % x", rec.out.Bytes(), want)
			}
		})
	}
}

// TestCloseReply: a client's close gets its code back; none gets 1000;
// a code no endpoint may send, or a reason that is not UTF-8, gets 1002.
func TestCloseReply(t *testing.T) {
	tests := []struct {
		in   []byte
		want ws.StatusCode
	}{
		{nil, 1000},
		{ws.NewCloseFrameBody(1000, "bye"), 1000},
		{ws.NewCloseFrameBody(1001, ""), 1001},
		{ws.NewCloseFrameBody(4000, "app"), 4000},
		{[]byte{3}, 1002},
		{ws.NewCloseFrameBody(999, ""), 1002},
		{ws.NewCloseFrameBody(1005, ""), 1002},
		{ws.NewCloseFrameBody(1000, "\xff"), 1002},
	}
	for _, tt := range tests {
		if code, _ := ws.ParseCloseFrameData(closeReply(tt.in)); code != tt.want {
			t.Errorf("close % x: answered %d, want %d", tt.in, code, tt.want)
		}
	}
}

// FuzzReadMessage: whatever bytes a client sends, the reader neither
// panics nor returns a message over the limit, and a protocol error
// carries a close code the RFC lets a server send.
func FuzzReadMessage(f *testing.F) {
	f.Add(masked(true, ws.OpText, `{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`))
	f.Add(cat(masked(false, ws.OpText, "ab"), masked(true, ws.OpPing, "p"), masked(true, ws.OpContinuation, "c")))
	f.Add(masked(true, ws.OpClose, string(ws.NewCloseFrameBody(1001, ""))))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &socket{conn: &recorder{}}
		br := bufio.NewReader(bytes.NewReader(in))
		for range 8 {
			msg, err := s.readMessage(br)
			if len(msg) > maxFrame {
				t.Fatalf("a message of %d bytes", len(msg))
			}
			var pe *protocolError
			if errors.As(err, &pe) && pe.code != statusProtocolError && pe.code != statusTooBig {
				t.Fatalf("close code %d", pe.code)
			}
			if err != nil {
				return
			}
		}
	})
}

// TestClientCloseIsAnsweredAndFreesTheSocket: a client's close handshake
// gets its code back, and the participant's place among its five sockets
// is free again.
func TestClientCloseIsAnsweredAndFreesTheSocket(t *testing.T) {
	g, _, newURL := setup(t)
	ctx := context.Background()
	url, _, _ := newURL()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	var id string
	for p := range g.sockets {
		id = p
	}
	g.mu.Unlock()
	// coder/websocket's Close fails unless the server echoes the close.
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.Connected(id) {
		if time.Now().After(deadline) {
			t.Fatal("the socket is still counted after its client closed it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := g.Stats(); st.Sockets != 0 || st.Subscriptions != 0 {
		t.Errorf("after the close: %+v, want no sockets and no subscriptions", st)
	}
}

// TestQueueLimitCountsFramesBeingWritten: the frames a writer has taken
// but not yet written still wait for the socket, so they count towards
// QueueLength; otherwise a client that stops reading while a long batch
// is being written holds nearly twice QueueLength frames before it is
// dropped.
func TestQueueLimitCountsFramesBeingWritten(t *testing.T) {
	srv, cli := net.Pipe()
	g := &Gateway{hub: &hub{}, sockets: map[string]int{"p": 1}, live: map[*socket]struct{}{}}
	g.open.Add(1)
	s := &socket{g: g, conn: srv, grant: chat.SocketGrant{ParticipantID: "p"}, expiry: time.NewTimer(time.Hour)}
	t.Cleanup(func() { cli.Close(); srv.Close(); g.work.Wait() })
	frame := outFrame{data: []byte(`{"topic":"aws/chat"}`)}
	for range QueueLength / 2 { // queued before the client subscribed
		s.offer(frame)
	}
	s.subscribed.Store(true)
	s.wake()
	// The client reads one byte and then nothing: the writer is stuck in
	// the first frame of its batch.
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cli.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	for range QueueLength - QueueLength/2 + 1 {
		s.offer(frame)
	}
	if s.closeReq.Load() == nil {
		t.Errorf("%d frames wait for a socket that reads nothing, and it is not closed", QueueLength+1)
	}
}

// TestFrameMemoryFollowsItsBytes: a frame's payload is held as it
// arrives, not allocated at the size its header claims, so a client that
// announces a 64 KB frame and sends a few bytes of it (then waits, or
// goes) costs the server what it sent.
func TestFrameMemoryFollowsItsBytes(t *testing.T) {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: maxFrame, Masked: true}
	var in bytes.Buffer
	ws.WriteHeader(&in, h)
	in.WriteString(`{"topic":"aws/heartbeat"}`) // and no more
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		s := &socket{conn: &recorder{}}
		if _, err := s.readMessage(bufio.NewReaderSize(bytes.NewReader(in.Bytes()), 64)); err == nil {
			t.Fatal("a frame cut short was read whole")
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 8<<10 {
		t.Errorf("reading a frame cut short after %d bytes allocated %d bytes", in.Len(), per)
	}
}

// TestClosingSocketTakesNoFrames: once a socket is closing (no heartbeat,
// expiry, restart), frames are no longer queued for it: they could not be
// sent after its close frame, and piling up they would count it among the
// sockets dropped for falling behind.
func TestClosingSocketTakesNoFrames(t *testing.T) {
	g := &Gateway{}
	s := &socket{g: g}
	s.close(statusPolicy, "No heartbeat.") // before the upgrade: no handshake starts
	for range QueueLength + 1 {
		s.offer(outFrame{data: []byte(`{"topic":"aws/chat"}`)})
	}
	if n, drops := s.pending(), g.slowDrops.Load(); n != 0 || drops != 0 {
		t.Errorf("a closing socket: %d frames queued, %d slow drops; want none", n, drops)
	}
}
