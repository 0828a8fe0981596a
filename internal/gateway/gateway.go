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
	sockets map[string]int // participant id → open sockets
	closing chan struct{}  // closed by Shutdown
	open    sync.WaitGroup
}

// New returns a gateway.
func New(svc *chat.Service, b broker.Broker, log *slog.Logger) *Gateway {
	return &Gateway{chat: svc, broker: b, log: log, now: time.Now, sockets: make(map[string]int), closing: make(chan struct{})}
}

// Shutdown closes every socket with 1001 (going away), so that clients
// reconnect to another server or after the restart, and waits for them.
func (g *Gateway) Shutdown() {
	g.mu.Lock()
	select {
	case <-g.closing:
	default:
		close(g.closing)
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

func (g *Gateway) acquire(participantID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sockets[participantID] >= MaxSocketsPerParticipant {
		return false
	}
	g.sockets[participantID]++
	return true
}

func (g *Gateway) release(participantID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sockets[participantID]--; g.sockets[participantID] <= 0 {
		delete(g.sockets, participantID)
	}
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
	select {
	case <-g.closing:
		forbidden(w, http.StatusServiceUnavailable, "The server is shutting down.")
		return
	default:
	}
	if !g.acquire(grant.ParticipantID) {
		forbidden(w, http.StatusTooManyRequests, "A participant may have at most 5 open websockets.")
		return
	}
	defer g.release(grant.ParticipantID)
	g.open.Add(1)
	defer g.open.Done()

	// Authentication is the token in the URL, so pages of any origin may
	// connect, as ChatJS on a customer's site does.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(maxFrame)
	s := &socket{g: g, conn: conn, grant: grant, initialContactID: sess.Contact.InitialContactID}
	s.run(r.Context())
}

// socket is one open participant websocket.
type socket struct {
	g                *Gateway
	conn             *websocket.Conn
	grant            chat.SocketGrant
	initialContactID string
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

func (s *socket) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.conn.CloseNow()

	sub := s.g.broker.Subscribe(s.grant.ContactID, QueueLength)
	defer sub.Close()
	// The chat may have ended between the checks above and Subscribe, with
	// its chat.ended published to nobody: look again now that we follow it.
	if _, err := s.g.chat.SocketSession(ctx, s.grant); err != nil {
		s.conn.Close(websocket.StatusNormalClosure, "The chat has ended.")
		return
	}

	subscribe := make(chan struct{})
	go s.read(ctx, cancel, subscribe)

	expiry := time.NewTimer(s.grant.Expires.Sub(s.g.now()))
	defer expiry.Stop()
	var ready <-chan struct{} // nil, so nothing is pushed, until the client subscribes
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.g.closing:
			s.conn.Close(websocket.StatusGoingAway, "The server is shutting down.")
			return
		case <-subscribe:
			subscribe, ready = nil, sub.Ready
		case <-sub.Dropped:
			s.conn.Close(closeLagging, "Fell behind; reconnect and read the transcript.")
			return
		case <-expiry.C:
			s.conn.Close(websocket.StatusNormalClosure, "The connection has expired.")
			return
		case <-ready:
			// Items committed together (a leave and the chat.ended it
			// causes) are queued together, so they all go before a close.
			closing := ""
			for _, it := range sub.Take() {
				if err := s.push(ctx, it); err != nil {
					return
				}
				if it.ContentType == chat.EventChatEnded ||
					(it.ContentType == chat.EventParticipantLeft && it.ParticipantID == s.grant.ParticipantID) {
					closing = "The chat has ended."
				}
			}
			if closing != "" {
				s.conn.Close(websocket.StatusNormalClosure, closing)
				return
			}
		}
	}
}

// read answers the client's control frames until the socket closes.
func (s *socket) read(ctx context.Context, cancel func(), subscribe chan struct{}) {
	defer cancel()
	for {
		rctx, rcancel := context.WithTimeout(ctx, IdleTimeout)
		_, data, err := s.conn.Read(rctx)
		rcancel()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue // ChatJS ignores what it cannot parse; so do we
		}
		var reply []byte
		switch f.Topic {
		case "aws/subscribe":
			reply = subscribed
			if subscribe != nil {
				close(subscribe)
				subscribe = nil
			}
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
