// Package gateway serves the websocket that CreateParticipantConnection hands
// out, speaking the protocol amazon-connect-chatjs expects
// (shared/notes/chatjs-protocol.md §3): aws/subscribe, aws/heartbeat and
// aws/ping are answered, and chat items are pushed on topic aws/chat with the
// Item as a JSON string.
package gateway

import (
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
	chat   *chat.Service
	broker broker.Broker
	log    *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	sockets map[string]int       // participant id → open sockets
	live    map[*socket]struct{} // every open socket, for Shutdown
	closing bool
	stop    chan struct{} // ends sweepIdle
	open    sync.WaitGroup
}

// New returns a gateway.
func New(svc *chat.Service, b broker.Broker, log *slog.Logger) *Gateway {
	g := &Gateway{chat: svc, broker: b, log: log, now: time.Now, sockets: make(map[string]int), live: make(map[*socket]struct{}),
		stop: make(chan struct{})}
	go g.sweepIdle()
	return g
}

// Shutdown closes every socket with 1001 (going away), so that clients
// reconnect to another server or after the restart, and waits for them.
func (g *Gateway) Shutdown() {
	g.mu.Lock()
	if !g.closing {
		close(g.stop)
	}
	g.closing = true
	for s := range g.live {
		go s.close(websocket.StatusGoingAway, "The server is shutting down.")
	}
	g.mu.Unlock()
	g.open.Wait()
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
	s := &socket{g: g, grant: grant, initialContactID: sess.Contact.InitialContactID}

	// Authentication is the token in the URL, so pages of any origin may
	// connect, as ChatJS on a customer's site does.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		g.release(s)
		return
	}
	conn.SetReadLimit(maxFrame)
	s.conn = conn
	s.touch()
	g.mu.Lock()
	g.live[s] = struct{}{}
	closing := g.closing
	g.mu.Unlock()
	if closing {
		conn.Close(websocket.StatusGoingAway, "The server is shutting down.")
		g.release(s)
		return
	}
	// The handler returns, so that the request and what net/http holds for
	// it become garbage; the socket lives on in its own goroutine. Its
	// context is not the request's, which ends with the handler.
	go func() {
		defer g.release(s)
		s.run(context.Background())
	}()
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
		cutoff := time.Now().Add(-IdleTimeout).UnixNano()
		g.mu.Lock()
		for s := range g.live {
			if s.lastRead.Load() < cutoff {
				go s.close(websocket.StatusPolicyViolation, "No heartbeat.")
			}
		}
		g.mu.Unlock()
	}
}

// socket is one open participant websocket. It holds one goroutine, the
// reader; a writer goroutine exists only while items wait to be sent, so an
// idle socket costs one goroutine and its buffers.
type socket struct {
	g                *Gateway
	conn             *websocket.Conn
	grant            chat.SocketGrant
	initialContactID string
	sub              atomic.Pointer[broker.Subscription] // set before the first wake can matter

	subscribed atomic.Bool  // the client sent aws/subscribe
	writing    atomic.Bool  // a writer goroutine is running
	lastRead   atomic.Int64 // when the client last sent a frame, Unix ns
	closeOnce  sync.Once
}

func (s *socket) touch() { s.lastRead.Store(time.Now().UnixNano()) }

type frame struct {
	Topic   string          `json:"topic"`
	Content json.RawMessage `json:"content,omitempty"`
}

var (
	subscribed = []byte(`{"topic":"aws/subscribe","content":{"status":"success","topics":["aws/chat"]}}`)
	heartbeat  = []byte(`{"topic":"aws/heartbeat"}`)
	pong       = []byte(`{"topic":"aws/ping","statusCode":200,"statusContent":"OK"}`)
)

// close closes the socket once; its reader then returns.
func (s *socket) close(code websocket.StatusCode, reason string) {
	s.closeOnce.Do(func() { s.conn.Close(code, reason) })
}

func (s *socket) run(ctx context.Context) {
	defer s.conn.CloseNow()
	sub := s.g.broker.SubscribeFunc(s.grant.ContactID, QueueLength, s.wake)
	s.sub.Store(sub)
	defer sub.Close()
	// The chat may have ended between the checks and the subscription, with
	// its chat.ended published to nobody: look again now that we follow it.
	if _, err := s.g.chat.SocketSession(ctx, s.grant); err != nil {
		s.close(websocket.StatusNormalClosure, "The chat has ended.")
		return
	}
	expiry := time.AfterFunc(s.grant.Expires.Sub(s.g.now()), func() {
		s.close(websocket.StatusNormalClosure, "The connection has expired.")
	})
	defer expiry.Stop()
	s.read(ctx)
}

// read answers the client's control frames until the socket closes.
func (s *socket) read(ctx context.Context) {
	for {
		_, data, err := s.conn.Read(ctx) // sweepIdle closes a silent socket
		if err != nil {
			return
		}
		s.touch()
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue // ChatJS ignores what it cannot parse; so do we
		}
		var reply []byte
		switch f.Topic {
		case "aws/subscribe":
			reply = subscribed
		case "aws/heartbeat":
			reply = heartbeat
		case "aws/ping":
			reply = pong
		default:
			continue
		}
		if err := s.write(ctx, reply); err != nil {
			return
		}
		if f.Topic == "aws/subscribe" && !s.subscribed.Swap(true) {
			s.wake() // items may have queued before the subscription
		}
	}
}

// wake starts the writer, unless it runs already or the client has not
// subscribed yet. The broker calls it after queueing items.
func (s *socket) wake() {
	sub := s.sub.Load()
	if sub == nil {
		return // not stored yet; the subscribe frame wakes the writer
	}
	if sub.IsDropped() {
		go s.close(closeLagging, "Fell behind; reconnect and read the transcript.")
		return
	}
	if s.subscribed.Load() && s.writing.CompareAndSwap(false, true) {
		go s.drain()
	}
}

// drain sends what is queued, then stops. Items committed together (a leave
// and the chat.ended it causes) are queued together, so they all go before
// a close.
func (s *socket) drain() {
	ctx := context.Background()
	sub := s.sub.Load()
	for {
		items := sub.Take()
		if len(items) == 0 {
			s.writing.Store(false)
			// An item queued between Take and Store found the writer
			// running and did not start one: look once more.
			if sub.Pending() == 0 || !s.writing.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		closing := ""
		for _, it := range items {
			if err := s.push(ctx, it); err != nil {
				s.conn.CloseNow()
				return
			}
			if it.ContentType == chat.EventChatEnded ||
				(it.ContentType == chat.EventParticipantLeft && it.ParticipantID == s.grant.ParticipantID) {
				closing = "The chat has ended."
			}
		}
		if closing != "" {
			s.close(websocket.StatusNormalClosure, closing)
			return
		}
	}
}

func (s *socket) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, WriteTimeout)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

// push sends one chat item in ChatJS's envelope.
func (s *socket) push(ctx context.Context, it store.Item) error {
	b, err := EncodeItem(it, s.initialContactID)
	if err != nil {
		return err
	}
	return s.write(ctx, b)
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
