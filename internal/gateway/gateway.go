// Package gateway serves the websocket that CreateParticipantConnection hands
// out, speaking the protocol amazon-connect-chatjs expects
// (shared/notes/chatjs-protocol.md §3): aws/subscribe, aws/heartbeat and
// aws/ping are answered, and chat items are pushed on topic aws/chat with the
// Item as a JSON string.
package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/store"
)

// Limits of one socket.
const (
	// MaxSocketsPerParticipant is Amazon Connect's limit on open websockets.
	MaxSocketsPerParticipant = 5
	// QueueLength is how many items may wait for a slow socket before it is
	// closed; its client then reconnects and catches up from the transcript.
	QueueLength = 256
	// IdleTimeout closes a socket that sends nothing, not even the
	// heartbeat ChatJS sends every 10 s.
	IdleTimeout = 60 * time.Second
	// WriteTimeout bounds one frame's write to a stuck client.
	WriteTimeout = 10 * time.Second
	maxFrame     = 64 << 10
)

// Close codes. A socket closed for falling behind uses 1013 (try again
// later), which ChatJS treats as a lost connection and reconnects.
const (
	closeLagging = websocket.StatusTryAgainLater
)

// Gateway serves participant websockets.
type Gateway struct {
	chat *chat.Service
	hub  *hub
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	sockets map[string]int       // participant id → open sockets
	live    map[*socket]struct{} // every open socket, for Shutdown
	closing bool
	stop    chan struct{} // ends sweepIdle
	// open counts the sockets (each holds its reader until finish), added
	// to under mu while not closing, so that no Add races Shutdown's Wait.
	open sync.WaitGroup
	// work counts sweepIdle and the writers; likewise under workMu, an
	// RWMutex since every socket's writer starts under it.
	work       sync.WaitGroup
	workMu     sync.RWMutex
	workClosed bool

	slowDrops atomic.Int64 // sockets closed for falling behind
}

// Stats is what the gateway holds, for the metrics.
type Stats struct {
	Sockets       int   // open sockets
	Subscriptions int   // chats this node follows (one broker subscription each)
	Queued        int   // frames waiting to be written, over every socket
	SlowDrops     int64 // sockets closed since start for falling behind
}

// Stats reads the gateway's counts.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	st := Stats{Sockets: len(g.live), SlowDrops: g.slowDrops.Load()}
	live := make([]*socket, 0, len(g.live))
	for s := range g.live {
		live = append(live, s)
	}
	g.mu.Unlock()
	for _, s := range live {
		st.Queued += s.pending()
	}
	g.hub.mu.Lock()
	st.Subscriptions = len(g.hub.feeds)
	g.hub.mu.Unlock()
	return st
}

// New returns a gateway.
func New(svc *chat.Service, b broker.Broker, log *slog.Logger) *Gateway {
	g := &Gateway{chat: svc, log: log, now: time.Now, sockets: make(map[string]int), live: make(map[*socket]struct{}),
		stop: make(chan struct{})}
	g.hub = newHub(b, svc.ItemsFrom, g.goWork, log)
	g.work.Add(1)
	go func() {
		defer g.work.Done()
		g.sweepIdle()
	}()
	return g
}

// Shutdown closes every socket with 1001 (going away), so that clients
// reconnect to another server or after the restart, and waits for them and
// every goroutine the gateway started. When ctx ends first, the sockets
// left are dropped without a close handshake and ctx's error is returned.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if !g.closing {
		close(g.stop)
	}
	g.closing = true
	for s := range g.live {
		s.close(websocket.StatusGoingAway, "The server is shutting down.")
	}
	g.mu.Unlock()
	g.workMu.Lock()
	g.workClosed = true
	g.workMu.Unlock()
	done := make(chan struct{})
	go func() {
		g.open.Wait()
		g.work.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	for s := range g.live {
		// The network connection itself: the reader, stuck waiting for
		// the client's close frame, fails and finishes the socket.
		s.netConn.Close()
	}
	g.mu.Unlock()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return ctx.Err()
}

// goWork runs f on a goroutine Shutdown waits for, unless it has begun.
func (g *Gateway) goWork(f func()) bool {
	g.workMu.RLock()
	defer g.workMu.RUnlock()
	if g.workClosed {
		return false
	}
	g.work.Add(1)
	go func() {
		defer g.work.Done()
		f()
	}()
	return true
}

// Connected reports whether a participant has a websocket open.
func (g *Gateway) Connected(participantID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sockets[participantID] > 0
}

// forbidden answers as API Gateway does for a refused websocket.
func forbidden(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// admit counts a new socket of a participant, refusing a sixth and any
// during shutdown.
func (g *Gateway) admit(participantID string) (status int, msg string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return http.StatusServiceUnavailable, "The server is shutting down."
	}
	if g.sockets[participantID] >= MaxSocketsPerParticipant {
		return http.StatusTooManyRequests, "A participant may have at most 5 open websockets."
	}
	g.sockets[participantID]++
	g.open.Add(1)
	return 0, ""
}

func (g *Gateway) release(s *socket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.live, s)
	if g.sockets[s.grant.ParticipantID]--; g.sockets[s.grant.ParticipantID] <= 0 {
		delete(g.sockets, s.grant.ParticipantID)
	}
	g.open.Done()
}

// ServeHTTP upgrades an authorised request to a participant websocket.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	grant, err := g.chat.VerifySocketToken(r.URL.Query().Get("token"))
	if err != nil {
		forbidden(w, http.StatusForbidden, "Forbidden")
		return
	}
	now := g.now()
	if now.After(grant.OpenBy) || !now.Before(grant.Expires) {
		forbidden(w, http.StatusForbidden, "The websocket URL has expired; call CreateParticipantConnection again.")
		return
	}
	sess, err := g.chat.SocketSession(r.Context(), grant)
	if err != nil {
		forbidden(w, http.StatusForbidden, "Forbidden")
		return
	}
	if status, msg := g.admit(grant.ParticipantID); status != 0 {
		forbidden(w, status, msg)
		return
	}
	s := &socket{g: g, grant: grant}

	// Authentication is the token in the URL, so pages of any origin may
	// connect, as ChatJS on a customer's site does.
	hw := &hijackWriter{ResponseWriter: w}
	conn, err := websocket.Accept(hw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		g.release(s)
		return
	}
	conn.SetReadLimit(maxFrame)
	s.conn, s.netConn, s.br = conn, hw.conn, hw.br
	s.touch()
	g.hub.join(s, grant.ContactID, sess.Contact.InitialContactID)
	s.expiry = time.AfterFunc(grant.Expires.Sub(g.now()), func() {
		s.close(websocket.StatusNormalClosure, "The connection has expired.")
	})
	g.mu.Lock()
	g.live[s] = struct{}{}
	closing := g.closing
	g.mu.Unlock()
	if closing {
		s.close(websocket.StatusGoingAway, "The server is shutting down.")
	} else if _, err := g.chat.SocketSession(r.Context(), grant); err != nil {
		// The chat may have ended between the checks and the subscription,
		// with its chat.ended published to nobody: look again now that the
		// socket follows it.
		s.close(websocket.StatusNormalClosure, "The chat has ended.")
	} else {
		g.chat.SocketOpened(r.Context(), sess)
	}
	// The handler returns, so that the request and what net/http holds for
	// it become garbage; the socket lives on in the goroutines it starts.
	go s.await()
}

// sweepIdle closes, every IdleTimeout/4, the sockets that sent nothing for
// IdleTimeout: one timer for all sockets rather than one per read.
func (g *Gateway) sweepIdle() {
	t := time.NewTicker(IdleTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.closeSilent(time.Now().Add(-IdleTimeout))
	}
}

// closeSilent closes the sockets whose client has sent nothing since t.
func (g *Gateway) closeSilent(t time.Time) {
	cutoff := t.UnixNano()
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.live {
		if s.lastRead.Load() < cutoff {
			s.close(websocket.StatusPolicyViolation, "No heartbeat.")
		}
	}
}

// socket is one open participant websocket. It holds one goroutine, parked
// on a shallow stack until the client sends (see await); a writer goroutine
// exists only while items wait to be sent. An idle socket costs that one
// small stack and its small buffers.
type socket struct {
	g       *Gateway
	conn    *websocket.Conn
	netConn *trackedConn
	br      *bufio.Reader // the socket's read buffer, inside conn
	grant   chat.SocketGrant
	feed    *feed // its chat's feed in the hub; under the hub's mu
	expiry  *time.Timer

	mu      sync.Mutex
	queue   []outFrame // frames waiting to be written
	lagging bool       // the queue overflowed: the socket is closing

	subscribed atomic.Bool  // the client sent aws/subscribe
	writing    atomic.Bool  // a writer goroutine is running
	lastRead   atomic.Int64 // when the client last sent a frame, Unix ns
	closeReq   atomic.Pointer[closeRequest]
}

type closeRequest struct {
	code   websocket.StatusCode
	reason string
}

func (s *socket) touch() { s.lastRead.Store(time.Now().UnixNano()) }

// outFrame is an encoded chat item on its way to one socket.
type outFrame struct {
	data   []byte // shared by every socket of the chat: never modified
	closes bool   // the socket closes once it is sent (the chat ended, or its participant left)
}

// offer queues a frame; a socket whose queue is full is closed, and its
// client catches up from the transcript after reconnecting.
func (s *socket) offer(f outFrame) {
	s.mu.Lock()
	if s.lagging {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= QueueLength {
		s.lagging, s.queue = true, nil
		s.mu.Unlock()
		s.g.slowDrops.Add(1)
		s.close(closeLagging, "Fell behind; reconnect and read the transcript.")
		return
	}
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	s.wake()
}

// take returns the waiting frames and empties the queue.
func (s *socket) take() []outFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

func (s *socket) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

type frame struct {
	Topic   string          `json:"topic"`
	Content json.RawMessage `json:"content,omitempty"`
}

var (
	subscribed = []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`)
	heartbeat  = []byte(`{"topic":"aws/heartbeat"}`)
	pong       = []byte(`{"topic":"aws/ping","statusCode":200,"statusContent":"OK"}`)
)

// close asks the socket's reader to close it with a close handshake. It
// returns at once: the reader, woken by a read deadline in the past, does
// the handshake, so that only the reader ever reads the connection.
func (s *socket) close(code websocket.StatusCode, reason string) {
	if s.closeReq.CompareAndSwap(nil, &closeRequest{code, reason}) {
		s.netConn.SetReadDeadline(time.Unix(1, 0))
	}
}

// await waits for the client's next frame and answers it. It runs on a new
// goroutine for every frame: the wait parks on a shallow stack, and the
// stack that reading, decoding and answering grew is freed with the
// goroutine that grew it, rather than held by an idle socket for its life.
func (s *socket) await() {
	if !s.unread() {
		s.waitReadable() // a closed connection or a close request shows below
	}
	if s.closeRequested() {
		return
	}
	_, data, err := s.conn.Read(context.Background()) // sweepIdle closes a silent socket
	if err != nil {
		if !s.closeRequested() { // one that came during the read
			s.finish()
		}
		return
	}
	s.touch()
	if err := s.answer(data); err != nil {
		s.finish()
		return
	}
	go s.await()
}

// closeRequested closes the socket, if asked to, and reports whether it did.
func (s *socket) closeRequested() bool {
	req := s.closeReq.Load()
	if req == nil {
		return false
	}
	s.netConn.SetReadDeadline(time.Time{}) // Close reads the client's close frame
	s.conn.Close(req.code, req.reason)
	s.finish()
	return true
}

// finish releases what the socket holds; only its reader calls it, once.
func (s *socket) finish() {
	s.expiry.Stop()
	s.g.hub.leave(s)
	s.conn.CloseNow()
	s.g.release(s)
}

// answer replies to one of the client's control frames.
func (s *socket) answer(data []byte) error {
	reply, subscribe := replyTo(data)
	if reply == nil {
		return nil
	}
	if err := s.write(context.Background(), reply); err != nil {
		return err
	}
	if subscribe && !s.subscribed.Swap(true) {
		s.wake() // items may have queued before the subscription
	}
	return nil
}

// replyTo returns the reply to a client's frame, nil for none, and whether
// the frame subscribes the socket.
func replyTo(data []byte) (reply []byte, subscribe bool) {
	var f frame
	if json.Unmarshal(data, &f) != nil {
		return nil, false // ChatJS ignores what it cannot parse; so do we
	}
	switch f.Topic {
	case "aws/subscribe":
		return subscribed, true
	case "aws/heartbeat":
		return heartbeat, false
	case "aws/ping":
		return pong, false
	}
	return nil, false
}

// wake starts the writer, unless it runs already or the client has not
// subscribed yet. The hub calls it after queueing frames.
func (s *socket) wake() {
	if s.subscribed.Load() && s.writing.CompareAndSwap(false, true) && !s.g.goWork(s.drain) {
		s.writing.Store(false) // shutting down: the socket is closing
	}
}

// drain sends what is queued, then stops. Items committed together (a leave
// and the chat.ended it causes) are queued together, so they all go before
// a close.
func (s *socket) drain() {
	ctx := context.Background()
	for {
		frames := s.take()
		if len(frames) == 0 {
			s.writing.Store(false)
			// A frame queued between take and Store found the writer
			// running and did not start one: look once more.
			if s.pending() == 0 || !s.writing.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		closing := false
		for _, f := range frames {
			if err := s.write(ctx, f.data); err != nil {
				s.conn.CloseNow()
				return
			}
			closing = closing || f.closes
		}
		if closing {
			s.close(websocket.StatusNormalClosure, "The chat has ended.")
			return
		}
	}
}

func (s *socket) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, WriteTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

type envelope struct {
	Topic       string `json:"topic"`
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// EncodeItem returns the aws/chat frame of an item.
func EncodeItem(it store.Item, initialContactID string) ([]byte, error) {
	w := chatwire.FromStore(it)
	w.InitialContactId = initialContactID
	inner, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Topic: "aws/chat", ContentType: "application/json", Content: string(inner)})
}
