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
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/broker"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/secret"
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

// Gateway serves participant websockets.
type Gateway struct {
	chat   *chat.Service
	hub    *hub
	poll   *poller // nil where there is none: each socket's reader waits in its read
	leases Leases  // nil on a single node
	node   string
	// leaseMu serialises renewals with releases: a renewal makes again
	// the leases it is given, so one released while a renewal is in flight
	// would come back and hold a place for leaseTTL.
	leaseMu sync.Mutex
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	sockets map[string]int       // participant id → open sockets
	live    map[*socket]struct{} // every open socket, for Shutdown
	closing bool
	// draining refuses new sockets: a balancer that has not yet seen the
	// node's /readyz turn 503 may send a reconnecting client back here,
	// where it would be closed again, at once with every other latecomer,
	// when the drain ends. Refused, ChatJS tries the URL again a second
	// later, through the balancer, and lands on another node.
	draining bool
	stop     chan struct{} // ends sweepIdle
	// open counts the sockets (each holds its reader until finish), added
	// to under mu while not closing, so that no Add races Shutdown's Wait.
	open sync.WaitGroup
	// work counts sweepIdle and the writers; likewise under workMu, an
	// RWMutex since every socket's writer starts under it.
	work       sync.WaitGroup
	workMu     sync.RWMutex
	workClosed bool

	slowDrops atomic.Int64 // sockets closed for falling behind
	// backendDown: the last health probe (UseHealth) failed, so aws/ping,
	// ChatJS's deep heartbeat, reports a failure.
	backendDown atomic.Bool
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

// Leases count a participant's websockets on every node of a cluster, so
// that Connect's limit of five holds however a balancer spreads them.
type Leases interface {
	AcquireSocket(ctx context.Context, id, participantID, node string, max int, ttl time.Duration) (bool, error)
	// RenewSockets extends the given leases (socket id → participant id)
	// of node's sockets, and makes again any that are gone: other nodes
	// clear the expired leases of a node cut off from the database.
	RenewSockets(ctx context.Context, leases map[string]string, node string, ttl time.Duration) error
	ReleaseSockets(ctx context.Context, ids []string) error
	// HasSocket reports whether a participant has an unexpired lease on
	// any node.
	HasSocket(ctx context.Context, participantID string) (bool, error)
}

// leaseTTL is how long a socket's lease lives unless renewed: a node that
// dies holds its participants' places this long.
const leaseTTL = 90 * time.Second

// UseLeases makes the gateway count sockets in l as well as on this node.
// Call it before serving.
func (g *Gateway) UseLeases(l Leases, node string) {
	g.leases, g.node = l, node
	g.goWork(g.renewLeases)
}

// UseHealth makes aws/ping (ChatJS's deep heartbeat, which asks whether
// the service behind the socket works) answer 503 while up reports false.
// up is probed every interval, by a goroutine of the gateway's, so that
// pings cost no database round trip. Call it before serving.
func (g *Gateway) UseHealth(up func(context.Context) bool, every time.Duration) {
	g.goWork(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), every)
			g.backendDown.Store(!up(ctx))
			cancel()
			select {
			case <-g.stop:
				return
			case <-t.C:
			}
		}
	})
}

// renewLeases renews the leases of this node's sockets every leaseTTL/3.
func (g *Gateway) renewLeases() {
	t := time.NewTicker(leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.renewOnce()
	}
}

func (g *Gateway) renewOnce() {
	g.leaseMu.Lock()
	defer g.leaseMu.Unlock()
	g.mu.Lock()
	leases := make(map[string]string, len(g.live))
	for s := range g.live {
		if s.lease != "" && !s.released {
			leases[s.lease] = s.grant.ParticipantID
		}
	}
	g.mu.Unlock()
	if len(leases) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.leases.RenewSockets(ctx, leases, g.node, leaseTTL); err != nil {
		g.log.Warn("renewing websocket leases", "sockets", len(leases), "err", err)
	}
}

// New returns a gateway.
func New(svc *chat.Service, b broker.Broker, log *slog.Logger) *Gateway {
	g := &Gateway{chat: svc, log: log, now: time.Now, sockets: make(map[string]int), live: make(map[*socket]struct{}),
		stop: make(chan struct{})}
	g.hub = newHub(b, svc.ItemsFrom, svc.LastSeqs, g.goWork, log)
	g.work.Add(1)
	go func() {
		defer g.work.Done()
		g.sweepIdle()
	}()
	g.goWork(func() { g.hub.run(g.stop) })
	if p, err := newPoller(); err == nil {
		g.poll = p
		g.goWork(func() { p.run(g.stop) })
	}
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
		s.close(statusGoingAway, "The server is shutting down.")
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
		g.closePoller()
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	for s := range g.live {
		// The network connection itself: the reader, stuck waiting for
		// the client's close frame, fails and finishes the socket.
		s.conn.Close()
	}
	g.mu.Unlock()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	g.closePoller()
	return ctx.Err()
}

func (g *Gateway) closePoller() {
	if g.poll != nil {
		g.poll.close()
	}
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

// Repairs counts the items read from the store because the broker lost
// them or delivered them late.
func (g *Gateway) Repairs() int64 { return g.hub.repairs.Load() }

// Drain closes the open sockets with 1012 (service restart), one after
// another over d, so that their clients reconnect (through the balancer,
// to other nodes) a few at a time. New sockets are refused with 503 from
// the start; any admitted just before close at the end. It returns when
// all are closed or d has passed.
func (g *Gateway) Drain(d time.Duration) {
	g.mu.Lock()
	g.draining = true
	socks := make([]*socket, 0, len(g.live))
	for s := range g.live {
		socks = append(socks, s)
	}
	g.mu.Unlock()
	const reason = "The server is restarting; reconnect."
	start := time.Now()
	for i, s := range socks {
		// Socket i closes at (i+1)/n of the period.
		if wait := time.Until(start.Add(d * time.Duration(i+1) / time.Duration(len(socks)))); wait > 0 {
			time.Sleep(wait)
		}
		s.close(statusRestart, reason)
	}
	g.mu.Lock()
	for s := range g.live {
		s.close(statusRestart, reason)
	}
	g.mu.Unlock()
}

// Connected reports whether a participant has a websocket open, on this
// node or, in a cluster, on any other. When the other nodes' sockets
// cannot be read it says yes: its callers end what has no socket.
func (g *Gateway) Connected(participantID string) bool {
	g.mu.Lock()
	here := g.sockets[participantID] > 0
	g.mu.Unlock()
	if here || g.leases == nil {
		return here
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	there, err := g.leases.HasSocket(ctx, participantID)
	if err != nil {
		g.log.Warn("reading the websocket leases of other nodes", "err", err)
		return true
	}
	return there
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
	if g.draining {
		return http.StatusServiceUnavailable, "The server is restarting; reconnect."
	}
	if g.sockets[participantID] >= MaxSocketsPerParticipant {
		return http.StatusTooManyRequests, "A participant may have at most 5 open websockets."
	}
	g.sockets[participantID]++
	g.open.Add(1)
	return 0, ""
}

func (g *Gateway) release(s *socket) {
	if s.lease != "" {
		// Waits for a renewal in flight, and keeps this lease out of later ones.
		g.leaseMu.Lock()
		s.released = true
		g.leaseMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := g.leases.ReleaseSockets(ctx, []string{s.lease}); err != nil {
			g.log.Warn("releasing a websocket lease; it expires by itself", "err", err)
		}
		cancel()
	}
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
	s := &socket{g: g, grant: grant, monitor: sess.Participant.Role == chat.RoleSupervisor}
	if g.leases != nil {
		id := secret.NewToken()
		ok, err := g.leases.AcquireSocket(r.Context(), id, grant.ParticipantID, g.node, MaxSocketsPerParticipant, leaseTTL)
		switch {
		case err != nil:
			g.release(s)
			g.log.Error("acquiring a websocket lease", "err", err)
			forbidden(w, http.StatusInternalServerError, "Internal server error")
			return
		case !ok:
			g.release(s)
			forbidden(w, http.StatusTooManyRequests, "A participant may have at most 5 open websockets.")
			return
		}
		s.lease = id
	}

	// Authentication is the token in the URL, so pages of any origin may
	// connect, as ChatJS on a customer's site does.
	// The socket follows its chat before the client learns it is open:
	// a client that sends at once (ChatJS does, on onConnectionEstablished)
	// must see its item. Frames wait until the client subscribes. This
	// holds for a participant's second socket too, though its first one
	// also gets them: ChatJS opens one when a heartbeat goes unanswered
	// (the first may be dead) and reads no transcript after switching, so
	// an item committed before the new socket subscribes must come on it;
	// a live first socket makes it a duplicate, which ChatJS's README
	// tells apps to drop by Id.
	g.hub.join(s, grant.ContactID, sess.Contact.InitialContactID)
	conn, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		g.hub.leave(s)
		g.release(s)
		return
	}
	// What the client sent right after its request (ChatJS may send its
	// subscription at once) is in net/http's buffer: keep those bytes and
	// let the buffers go, so that the socket holds none.
	if n := rw.Reader.Buffered(); n > 0 {
		s.src.early, _ = rw.Reader.Peek(n)
		s.src.early = append([]byte(nil), s.src.early...)
	}
	s.conn, s.src.conn = conn, conn
	if g.poll != nil {
		s.rc = rawConn(conn)
	}
	s.touch()
	s.expiry = time.AfterFunc(grant.Expires.Sub(g.now()), func() {
		s.close(statusNormal, "The connection has expired.")
	})
	g.mu.Lock()
	g.live[s] = struct{}{}
	closing := g.closing
	g.mu.Unlock()
	if closing {
		s.close(statusGoingAway, "The server is shutting down.")
	} else if _, err := g.chat.SocketSession(r.Context(), grant); err != nil {
		// The chat may have ended between the checks and the subscription,
		// with its chat.ended published to nobody: look again now that the
		// socket follows it.
		s.close(statusNormal, "The chat has ended.")
	} else {
		g.chat.SocketOpened(r.Context(), sess)
	}
	// The socket now waits for its client; the handler returns, so that the
	// request and what net/http holds for it become garbage.
	early := len(s.src.early) > 0
	if s.rc != nil && g.poll.add(s, s.rc, !early) != nil {
		s.rc = nil // not watchable: a reader waits in its read
	}
	if early || s.rc == nil {
		go s.ready()
	}
	s.mu.Lock()
	s.upgraded = true
	s.mu.Unlock()
	if s.closeReq.Load() != nil { // asked to close before the upgrade
		s.startClose()
	}
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
			s.close(statusPolicy, "No heartbeat.")
		}
	}
}

// socket is one open participant websocket. While its client is silent it
// holds no goroutine and no buffer: the poller watches its connection, and
// a goroutine reads only once the client has sent something (see ready). A
// writer goroutine exists only while items wait to be sent.
type socket struct {
	g        *Gateway
	conn     net.Conn
	rc       syscall.RawConn // conn's descriptor for the poller; nil: a reader waits in its read
	token    uint64          // its key in the poller
	src      source          // what the reader reads; under rmu
	grant    chat.SocketGrant
	lease    string // its lease's id in a cluster, else ""
	released bool   // its lease is being released; under g.leaseMu
	// monitor: the socket is a supervisor's. A silent monitor leaves
	// unheard (no participant.left closes its socket), so its writer
	// checks that it is still in the chat before each batch it sends.
	monitor bool
	feed    *feed // its chat's feed in the hub; under the hub's mu
	expiry  *time.Timer

	mu       sync.Mutex
	upgraded bool       // conn is set: close may start the handshake
	queue    []outFrame // frames waiting to be written
	lagging  bool       // the queue overflowed: the socket is closing

	// rmu is held by whoever reads the connection: the reader of a frame,
	// or the close handshake waiting for the client's close frame.
	rmu      sync.Mutex
	finished bool // under rmu

	wmu     sync.Mutex // one frame at a time
	wclosed bool       // the close frame was sent; under wmu

	teardown sync.Once
	closing  atomic.Bool // the close handshake has started

	subscribed atomic.Bool  // the client sent aws/subscribe
	writing    atomic.Bool  // a writer goroutine is running
	lastRead   atomic.Int64 // when the client last sent a frame, Unix ns
	closeReq   atomic.Pointer[closeRequest]
}

type closeRequest struct {
	code   ws.StatusCode
	reason string
}

func (s *socket) touch() { s.lastRead.Store(time.Now().UnixNano()) }

// outFrame is an encoded chat item on its way to one socket.
type outFrame struct {
	data   []byte // shared by every socket of the chat: never modified; nil for a close alone
	closes bool   // the socket closes once it is sent (the chat ended, or its participant left)
}

// offer queues a frame; a socket whose queue is full is closed, and its
// client catches up from the transcript after reconnecting. A socket that
// is closing takes no more: they would wait behind its close frame.
func (s *socket) offer(f outFrame) {
	if s.closeReq.Load() != nil {
		return
	}
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

// head returns the frame to write next. It stays queued, counted against
// QueueLength, until sent removes it: a frame being written to a slow
// client still waits for it.
func (s *socket) head() (outFrame, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return outFrame{}, false
	}
	return s.queue[0], true
}

// sent removes the frame head returned, letting go of its data and, once
// the queue is empty, of the queue's array.
func (s *socket) sent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 { // dropped meanwhile: the socket fell behind
		return
	}
	s.queue[0] = outFrame{}
	if s.queue = s.queue[1:]; len(s.queue) == 0 {
		s.queue = nil
	}
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
	// ChatJS takes any other status as a deep heartbeat failure and hands
	// statusCode and statusContent to the app's onDeepHeartbeatFailure.
	pongDown = []byte(`{"topic":"aws/ping","statusCode":503,"statusContent":"Service Unavailable"}`)
)

// close starts the close handshake with code and reason, once. It returns
// at once; before the upgrade, ServeHTTP starts it after.
func (s *socket) close(code ws.StatusCode, reason string) {
	if s.closeReq.CompareAndSwap(nil, &closeRequest{code, reason}) {
		s.mu.Lock()
		up := s.upgraded
		s.mu.Unlock()
		if up {
			s.startClose()
		}
	}
}

// startClose starts the close handshake, once.
func (s *socket) startClose() {
	if s.closing.CompareAndSwap(false, true) {
		go s.closeHandshake()
	}
}

// closeHandshake sends the requested close frame, waits up to closeWait for
// the client's, and finishes the socket. A reader in the middle of a frame
// is woken by a read deadline in the past and gives way.
func (s *socket) closeHandshake() {
	req := s.closeReq.Load()
	s.conn.SetReadDeadline(time.Unix(1, 0))
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.finished {
		return
	}
	s.unwatch()
	if s.writeFrame(ws.OpClose, closeBody(req.code, req.reason)) == nil {
		s.conn.SetReadDeadline(time.Now().Add(closeWait))
		br := readers.Get().(*bufio.Reader)
		br.Reset(&s.src)
		for {
			if _, err := s.readMessage(br); err != nil {
				break // the client's close frame, or the deadline
			}
		}
		br.Reset(nil)
		readers.Put(br)
	}
	s.finish()
}

// ready reads what the client sent and answers it, then waits for the
// poller again. The poller starts it on a new goroutine, so the stack that
// reading and answering grew is freed when it returns.
func (s *socket) ready() {
	s.rmu.Lock()
	if s.finished || s.closeReq.Load() != nil { // the close handshake reads now
		s.rmu.Unlock()
		return
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(&s.src)
	err := s.readAll(br)
	br.Reset(nil)
	readers.Put(br)
	if err != nil {
		if s.closeReq.Load() == nil { // else the close handshake woke the read: it finishes
			var pe *protocolError
			var cc clientClosed
			switch {
			case errors.As(err, &cc):
				s.writeFrame(ws.OpClose, closeReply(cc.payload))
			case errors.As(err, &pe):
				s.writeFrame(ws.OpClose, closeBody(pe.code, pe.reason))
			}
			s.finish()
		}
		s.rmu.Unlock()
		return
	}
	defer s.rmu.Unlock()
	switch {
	case s.closeReq.Load() != nil: // the close handshake reads next
	case s.rc == nil:
		go s.ready() // no poller: the next reader waits in its read
	case s.g.poll.arm(s, s.rc) != nil:
		s.closeNow()
	}
}

// readAll answers the client's messages while its bytes last. A frame cut
// short is read to its end: its client is sending it. A message that is
// not one of the protocol's is ignored, as ChatJS ignores what it cannot
// parse.
func (s *socket) readAll(br *bufio.Reader) error {
	for {
		msg, err := s.readMessage(br)
		if err != nil {
			return err
		}
		s.touch()
		if msg != nil {
			if err := s.answer(msg); err != nil {
				return err
			}
		}
		if br.Buffered() == 0 && len(s.src.early) == 0 {
			return nil
		}
	}
}

// unwatch stops the poller watching the socket; under rmu.
func (s *socket) unwatch() {
	if s.rc != nil {
		s.g.poll.remove(s, s.rc)
	}
}

// finish releases what the socket holds, once; under rmu.
func (s *socket) finish() {
	s.finished = true
	s.teardown.Do(func() {
		s.unwatch()
		s.conn.Close()
		s.expiry.Stop()
		s.g.hub.leave(s)
		s.g.release(s)
	})
}

// closeNow drops the connection without a handshake (a write failed or
// timed out): a reader in it fails, and the socket finishes.
func (s *socket) closeNow() {
	s.conn.SetReadDeadline(time.Unix(1, 0))
	go func() {
		s.rmu.Lock()
		defer s.rmu.Unlock()
		if !s.finished {
			s.finish()
		}
	}()
}

// answer replies to one of the client's control frames.
func (s *socket) answer(data []byte) error {
	reply, subscribe := replyTo(data, s.g.backendDown.Load())
	if reply == nil {
		return nil
	}
	if err := s.write(reply); err != nil {
		return err
	}
	if subscribe && !s.subscribed.Swap(true) {
		s.wake() // items may have queued before the subscription
	}
	return nil
}

// replyTo returns the reply to a client's frame, nil for none, and whether
// the frame subscribes the socket; down says the service is unhealthy.
func replyTo(data []byte, down bool) (reply []byte, subscribe bool) {
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
		if down {
			return pongDown, false
		}
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
	for {
		n := s.pending() // this batch: what is queued now
		if n == 0 {
			s.writing.Store(false)
			// A frame queued between pending and Store found the writer
			// running and did not start one: look once more.
			if s.pending() == 0 || !s.writing.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		if s.monitor && !s.stillIn() {
			s.close(statusNormal, "The participant has left the chat.")
			return
		}
		closing := false
		for range n {
			f, ok := s.head()
			if !ok { // dropped for falling behind: the socket is closing
				return
			}
			if f.data != nil {
				if err := s.write(f.data); err != nil {
					if err != errWriteClosed {
						s.closeNow()
					}
					return
				}
			}
			s.sent()
			closing = closing || f.closes
		}
		if closing {
			s.close(statusNormal, "The chat has ended.")
			return
		}
	}
}

func (s *socket) write(b []byte) error { return s.writeFrame(ws.OpText, b) }

// stillIn reports whether the socket's participant is still in the chat.
// Only a silent monitor's leave is asked about: any other participant's
// leave is an item, after which its socket closes (see closeLeavers).
func (s *socket) stillIn() bool {
	ctx, cancel := context.WithTimeout(context.Background(), WriteTimeout)
	defer cancel()
	left, err := s.g.chat.LeftUnheard(ctx, s.grant.ParticipantID)
	return err == nil && !left
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
