// Package parley is a Go client for chats on Amazon Connect and on Parley:
// what amazon-connect-chatjs is for browsers, for Go programs that take part
// in chats — bots, relays from other channels, load tools.
//
// A Session joins a chat as one participant. Connect opens the participant
// connection and its websocket (with the subscribe, heartbeat and ping rules
// ChatJS follows); Events delivers what happens in the chat. The session
// reconnects by itself with backoff and jitter, refreshes its connection
// token before it expires, renews its websocket before the service ends it
// (a new socket, subscribed, before the old one closes: no ConnectionLost),
// and after a reconnect reads the transcript to deliver what it missed,
// de-duplicated by item, so that every item reaches the caller once and in
// order.
//
// Events is a channel rather than a set of callbacks, so that a caller
// handles events in its own goroutine, in order, and can select on them
// together with its context, timers and other channels. The channel closes
// after the chat ends or the session is closed.
//
// The endpoint defaults to Amazon Connect's participant service for the
// region; point it at a Parley server with Options.Endpoint.
package parley

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Details identify a participant of a chat, as StartChatContact and
// CreateParticipant return them.
type Details struct {
	ContactID        string
	ParticipantID    string
	ParticipantToken string
}

// Options configure a Session. The zero value talks to Amazon Connect in
// us-east-1.
type Options struct {
	// Endpoint is the participant service's base URL; "" means
	// https://participant.connect.<Region>.amazonaws.com.
	Endpoint string
	Region   string
	// HTTPClient makes the API calls and uploads; nil means a client with
	// no overall timeout (uploads may be long) that honours contexts.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// EventBuffer is the capacity of the Events channel; 0 means 256.
	EventBuffer int
}

// Session is one participant's connection to a chat. Its methods are safe
// for concurrent use.
type Session struct {
	details  Details
	endpoint string
	http     *http.Client
	log      *slog.Logger
	events   chan Event

	mu          sync.Mutex
	token       string // ConnectionToken
	tokenExpiry time.Time
	seen        recent
	lastItem    string    // the newest transcript item delivered, to catch up from
	lastTime    time.Time // its time, to catch up from should the service not know it
	state       state
	// stop cancels whatever runs for the session: an in-flight Connect, then
	// the run loop. Set with state, under mu.
	stop context.CancelFunc
	// done closes once Events is closed. Exactly one goroutine closes
	// Events: the run loop once it has started, otherwise Connect (when
	// Close interrupted it) or Close (when Connect never began).
	done chan struct{}
	life lifetimes
}

// lifetimes say when the session renews a websocket.
type lifetimes struct {
	transport time.Duration // renew this long after opening, whatever the service says
	urlWindow time.Duration // a ConnectionExpiry this close is the URL's, not the socket's
	grace     time.Duration // how long the old socket may still bring what the new one lacks
}

// Amazon Connect's sockets pass through API Gateway, which ends any
// connection after 2 hours; ChatJS renews its socket 3540 s after opening
// it (TRANSPORT_LIFETIME_IN_SECONDS), and so does the session. A service
// may end a socket sooner, at the Websocket.ConnectionExpiry it gave
// (Parley does, after PARLEY_CONNECTION_TTL): the session renews a minute
// before that, or halfway through a shorter life. Connect documents
// ConnectionExpiry as the URL's expiry, and a URL must be opened within
// 100 s: an expiry no later than that is the URL's, and renewing on it
// would renew about once a minute; only the transport lifetime applies then.
var defaultLifetimes = lifetimes{transport: 3540 * time.Second, urlWindow: 100 * time.Second, grace: 2 * time.Second}

// renewLead is how long before the service ends a socket the session
// renews it; ChatJS refreshes its token as long before expiry.
const renewLead = time.Minute

// renewAt returns when to renew a socket whose URL arrived at start (the
// client's clock), given the service's ConnectionExpiry and its clock when
// it answered (zero when unknown), so that the client's skew does not count.
func (l lifetimes) renewAt(start, serverNow, expiry time.Time) time.Time {
	at := start.Add(l.transport)
	if expiry.IsZero() {
		return at
	}
	if serverNow.IsZero() {
		serverNow = start
	}
	life := expiry.Sub(serverNow)
	if life <= l.urlWindow {
		return at
	}
	if end := start.Add(life - min(renewLead, life/2)); end.Before(at) {
		return end
	}
	return at
}

// state is where a Session is in its life.
type state int

const (
	stateNew        state = iota // Connect not called, or failed
	stateConnecting              // Connect in flight
	stateRunning                 // the run loop owns Events
	stateClosed
)

// ErrClosed is returned by Connect on a closed session.
var ErrClosed = errors.New("parley: the session is closed")

// NewSession prepares a session; Connect starts it.
func NewSession(d Details, o Options) *Session {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://participant.connect." + o.Region + ".amazonaws.com"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.EventBuffer == 0 {
		o.EventBuffer = 256
	}
	return &Session{
		details:  d,
		endpoint: strings.TrimSuffix(o.Endpoint, "/"),
		http:     o.HTTPClient,
		log:      o.Logger,
		events:   make(chan Event, o.EventBuffer),
		seen:     recent{keys: make(map[string]struct{})},
		done:     make(chan struct{}),
		life:     defaultLifetimes,
	}
}

// Details returns the participant the session is for.
func (s *Session) Details() Details { return s.details }

// Events delivers the chat's events in order. It is closed after a
// *ChatEnded, or when the session is closed.
func (s *Session) Events() <-chan Event { return s.events }

type connectionOut struct {
	Websocket *struct {
		Url              string
		ConnectionExpiry string
	}
	ConnectionCredentials *struct {
		ConnectionToken string
		Expiry          string
	}
	date time.Time // the service's clock when it answered
}

func (o *connectionOut) setDate(h string) { o.date, _ = http.ParseTime(h) }

// socket is an open, subscribed websocket, and when to renew it.
type socket struct {
	conn    *websocket.Conn
	renewAt time.Time
}

// createConnection trades the participant token for a connection token and,
// with websocket, a websocket URL and when to renew the socket it opens.
func (s *Session) createConnection(ctx context.Context, websocket bool) (wsURL string, renewAt time.Time, err error) {
	types := []string{"CONNECTION_CREDENTIALS"}
	if websocket {
		types = append(types, "WEBSOCKET")
	}
	var out connectionOut
	in := map[string]any{"Type": types, "ConnectParticipant": true}
	if err := s.call(ctx, "POST", "/participant/connection", s.details.ParticipantToken, in, &out); err != nil {
		return "", time.Time{}, err
	}
	if out.ConnectionCredentials == nil || (websocket && out.Websocket == nil) {
		return "", time.Time{}, errors.New("parley: CreateParticipantConnection returned no connection")
	}
	s.mu.Lock()
	s.token = out.ConnectionCredentials.ConnectionToken
	s.tokenExpiry = parseTime(out.ConnectionCredentials.Expiry)
	s.mu.Unlock()
	if websocket {
		return out.Websocket.Url, s.life.renewAt(time.Now(), out.date, parseTime(out.Websocket.ConnectionExpiry)), nil
	}
	return "", time.Time{}, nil
}

func (s *Session) connectionToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Authenticate gets a connection token without opening a websocket, for a
// program that only sends, downloads or reads the transcript. Connect does
// it too.
func (s *Session) Authenticate(ctx context.Context) error {
	_, _, err := s.createConnection(ctx, false)
	return err
}

// Connect opens the participant connection and its websocket, and starts
// delivering events. It returns once the socket is subscribed. Close
// interrupts it. A Connect that failed may be called again.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	switch s.state {
	case stateClosed:
		s.mu.Unlock()
		return ErrClosed
	case stateConnecting, stateRunning:
		s.mu.Unlock()
		return errors.New("parley: Connect called twice")
	}
	// The run loop's context; until the loop starts it also cancels this
	// Connect, so that Close need not wait for a slow dial.
	bg, stop := context.WithCancel(context.Background())
	s.state, s.stop = stateConnecting, stop
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(bg, cancel)()

	sock, last, err := s.connect(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed { // Close came meanwhile and waits on done
		if sock != nil {
			sock.conn.CloseNow()
		}
		close(s.events)
		close(s.done)
		return ErrClosed
	}
	if err != nil {
		s.state, s.stop = stateNew, nil
		stop()
		return err
	}
	s.state, s.lastItem, s.lastTime = stateRunning, last.ID, last.Time
	go s.run(bg, sock)
	return nil
}

// connect opens the socket and finds the newest transcript item: catch-ups
// start after it, since events are what happens from the connection on, as
// with ChatJS.
func (s *Session) connect(ctx context.Context) (sock *socket, last Item, err error) {
	sock, err = s.open(ctx)
	if err != nil {
		return nil, Item{}, err
	}
	for it, err := range s.Transcript(ctx, TranscriptOptions{Limit: 1}) {
		if err != nil {
			sock.conn.CloseNow()
			return nil, Item{}, err
		}
		last = it
	}
	return sock, last, nil
}

// open makes a participant connection and subscribes its websocket.
func (s *Session) open(ctx context.Context) (*socket, error) {
	url, renewAt, err := s.createConnection(ctx, true)
	if err != nil {
		return nil, err
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: s.http})
	if err != nil {
		return nil, fmt.Errorf("parley: opening the websocket: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	if err := writeFrame(ctx, conn, `{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`); err != nil {
		conn.CloseNow()
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		f, err := readFrame(rctx, conn)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("parley: subscribing: %w", err)
		}
		if f.Topic == "aws/subscribe" {
			if !strings.Contains(string(f.Content), `"success"`) {
				conn.CloseNow()
				return nil, fmt.Errorf("parley: subscription refused: %s", f.Content)
			}
			return &socket{conn: conn, renewAt: renewAt}, nil
		}
	}
}

type frame struct {
	Topic   string          `json:"topic"`
	Content json.RawMessage `json:"content"`
	Message string          `json:"message"`
}

func writeFrame(ctx context.Context, conn *websocket.Conn, f string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, []byte(f))
}

func readFrame(ctx context.Context, conn *websocket.Conn) (frame, error) {
	_, b, err := conn.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	return decodeFrame(b)
}

func decodeFrame(b []byte) (frame, error) {
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("parley: a frame that is not JSON: %w", err)
	}
	return f, nil
}

// chatItem returns the chat item an aws/chat frame carries: its content is
// the item's JSON as a string. ok is false for other frames and for content
// that does not parse, which are skipped, as ChatJS skips them.
func (f frame) chatItem() (it Item, ok bool) {
	if f.Topic != "aws/chat" {
		return Item{}, false
	}
	var content string
	if json.Unmarshal(f.Content, &content) != nil {
		return Item{}, false
	}
	var w wireItem
	if json.Unmarshal([]byte(content), &w) != nil {
		return Item{}, false
	}
	return w.item(), true
}

// Heartbeats, as ChatJS sends them; a socket silent for deadAfter is dead.
const (
	heartbeatEvery = 10 * time.Second
	deadAfter      = 30 * time.Second
)

var errChatEnded = errors.New("parley: the chat has ended")

// run keeps the session connected until the chat ends or it is closed.
func (s *Session) run(ctx context.Context, sock *socket) {
	defer close(s.done)
	defer close(s.events)
	for {
		err := s.serve(ctx, sock)
		if errors.Is(err, errChatEnded) || ctx.Err() != nil {
			return
		}
		s.log.Info("connection lost; reconnecting", "err", err)
		if !s.emit(ctx, &ConnectionLost{Err: err}) {
			return
		}
		if sock = s.reconnectAndCatchUp(ctx); sock == nil {
			return
		}
		if !s.emit(ctx, &ConnectionRestored{}) {
			sock.conn.CloseNow()
			return
		}
	}
}

// reconnectAndCatchUp reconnects and delivers what was missed meanwhile.
// A catch-up that fails for a reason other than the chat's end is tried
// again on a new connection: reporting the session restored without it
// would lose the missed items for good. It returns nil when the chat is
// over or ctx ends.
func (s *Session) reconnectAndCatchUp(ctx context.Context) *socket {
	for failures := 0; ; failures++ {
		sock := s.reconnect(ctx, failures+1) // the backoff grows with each failure
		if sock == nil {
			return nil
		}
		err := s.catchUp(ctx)
		if err == nil {
			return sock
		}
		sock.conn.CloseNow()
		if errors.Is(err, errChatEnded) || ctx.Err() != nil {
			return nil
		}
		s.log.Info("catching up failed; reconnecting", "err", err)
	}
}

// reconnect opens a new connection, backing off with jitter from the
// attempt first on. It returns nil when the chat is over (the service
// refuses the participant) or ctx ends.
func (s *Session) reconnect(ctx context.Context, first int) *socket {
	for attempt := first; ; attempt++ {
		if sleep(ctx, backoff(attempt, 500*time.Millisecond, 30*time.Second)) != nil {
			return nil
		}
		sock, err := s.open(ctx)
		if err == nil {
			return sock
		}
		if isAccessDenied(err) {
			// As ChatJS does: a refused reconnect means the chat ended.
			s.emit(ctx, &ChatEnded{})
			return nil
		}
		s.log.Info("reconnect failed", "attempt", attempt, "err", err)
	}
}

// backoff is exponential from base up to limit, with ±30% jitter.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base << min(attempt-1, 16)
	d = min(d, limit)
	return time.Duration(float64(d) * (0.7 + 0.6*rand.Float64()))
}

// link is a socket being read, on its own goroutine, and heartbeated.
type link struct {
	*socket
	frames        chan frame // closed once reading fails, with err set
	err           error
	stop          context.CancelFunc // ends its reader and heartbeat
	stopHeartbeat context.CancelFunc
	closed        chan struct{} // closes once retire has closed the socket
}

// follow starts reading and heartbeating sock; wg counts the goroutines.
func (s *Session) follow(ctx context.Context, wg *sync.WaitGroup, sock *socket) *link {
	ctx, stop := context.WithCancel(ctx)
	hctx, stopHeartbeat := context.WithCancel(ctx)
	l := &link{socket: sock, frames: make(chan frame, 16), stop: stop, stopHeartbeat: stopHeartbeat, closed: make(chan struct{})}
	wg.Go(func() { s.heartbeat(hctx, sock.conn) })
	wg.Go(func() {
		defer close(l.frames)
		for {
			rctx, cancel := context.WithTimeout(ctx, deadAfter)
			f, err := readFrame(rctx, sock.conn)
			cancel()
			if err != nil {
				l.err = err
				return
			}
			select {
			case l.frames <- f:
			case <-ctx.Done():
				l.err = ctx.Err()
				return
			}
		}
	})
	return l
}

// drop ends the socket at once.
func (l *link) drop() {
	l.stop()
	l.conn.CloseNow()
}

// retire closes a renewed socket with a close handshake, as ChatJS closes
// the socket it replaced.
func (l *link) retire(wg *sync.WaitGroup) {
	l.stopHeartbeat()
	wg.Go(func() {
		defer close(l.closed)
		l.conn.Close(websocket.StatusNormalClosure, "renewed")
		l.stop()
	})
}

type opened struct {
	sock *socket
	err  error
}

// serve reads the socket until it fails, sending heartbeats and refreshing
// the connection token on time, and renews it before the service ends it.
// Renewing, as ChatJS does, opens and subscribes a new socket while the
// old one still delivers; the new one's items wait until the old one has
// brought everything the new one lacks: an item both bring (from then on
// the new one brings all), or, when none comes within the grace period, a
// catch-up from the transcript. Then the old socket closes and the new one
// goes on; items are de-duplicated by id, and the caller sees no
// ConnectionLost. serve closes every socket it holds before returning.
func (s *Session) serve(ctx context.Context, first *socket) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // readers, heartbeats (refreshes included), renewals, closes
	defer cancel()
	cur := s.follow(ctx, &wg, first)
	var next *link      // the renewal's socket, subscribed
	var retired []*link // old sockets in their close handshake
	defer func() {
		cur.drop()
		if next != nil {
			next.drop()
		}
		for _, l := range retired { // the session closes: no waiting for handshakes
			l.drop()
		}
	}()
	var (
		curFrames  = cur.frames
		curErr     error // cur failed while a renewal was opening
		nextFrames chan frame
		pending    []frame // next's frames, until the switch
		pendingIDs map[string]bool
		opening    chan opened
		grace      <-chan time.Time
		failures   int
	)
	renew := time.NewTimer(time.Until(cur.renewAt))
	defer renew.Stop()

	// pass delivers one item of a frame; errChatEnded after the end.
	pass := func(f frame) error {
		it, ok := f.chatItem()
		if !ok {
			return nil
		}
		if !s.deliver(ctx, it) {
			return ctx.Err()
		}
		if it.ContentType == eventPrefix+"chat.ended" {
			return errChatEnded
		}
		return nil
	}
	// switchOver makes next the socket; catchUp reads the transcript first
	// for what the old one may have held back.
	switchOver := func(catchUp bool) error {
		old := cur
		cur, next, curFrames, nextFrames, grace = next, nil, next.frames, nil, nil
		if curErr == nil {
			old.retire(&wg)
			retired = append(slices.DeleteFunc(retired, func(l *link) bool {
				select {
				case <-l.closed:
					return true
				default:
					return false
				}
			}), old)
		} else {
			old.drop()
		}
		curErr = nil
		if catchUp {
			if err := s.catchUp(ctx); err != nil {
				return err
			}
		}
		for _, f := range pending {
			if err := pass(f); err != nil {
				return err
			}
		}
		pending, pendingIDs, failures = nil, nil, 0
		renew.Reset(time.Until(cur.renewAt))
		s.log.Debug("websocket renewed", "next", cur.renewAt)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()

		case <-renew.C:
			ch := make(chan opened)
			opening = ch
			wg.Go(func() {
				sock, err := s.open(ctx)
				select {
				case ch <- opened{sock, err}:
				case <-ctx.Done(): // serve has returned
					if sock != nil {
						sock.conn.CloseNow()
					}
				}
			})

		case o := <-opening:
			opening = nil
			if o.err != nil {
				if curErr != nil {
					return curErr // the old socket is gone too: reconnect
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.log.Info("renewing the websocket failed", "err", o.err)
				if !isAccessDenied(o.err) { // else the chat is over: its end comes on the socket
					failures++
					renew.Reset(backoff(failures, time.Second, 30*time.Second))
				}
				continue
			}
			next = s.follow(ctx, &wg, o.sock)
			nextFrames, pendingIDs = next.frames, make(map[string]bool)
			if curErr != nil {
				if err := switchOver(true); err != nil {
					return err
				}
				continue
			}
			grace = time.After(s.life.grace)

		case f, ok := <-curFrames:
			if !ok {
				if next != nil { // renewed in time: the new socket goes on
					curErr = cur.err
					if err := switchOver(true); err != nil {
						return err
					}
					continue
				}
				if opening != nil { // a renewal is on its way: wait for it
					curErr, curFrames = cur.err, nil
					continue
				}
				return cur.err
			}
			if err := pass(f); err != nil {
				return err
			}
			if it, ok := f.chatItem(); ok && next != nil && dedupKey(it) != "" && pendingIDs[dedupKey(it)] {
				// The new socket had this item too, and has all after it.
				if err := switchOver(false); err != nil {
					return err
				}
			}

		case f, ok := <-nextFrames:
			if !ok { // the new socket failed before the switch: keep the old
				s.log.Info("the renewed websocket failed", "err", next.err)
				next.drop()
				next, nextFrames, pending, pendingIDs, grace = nil, nil, nil, nil, nil
				failures++
				renew.Reset(backoff(failures, time.Second, 30*time.Second))
				continue
			}
			pending = append(pending, f)
			if it, ok := f.chatItem(); ok {
				pendingIDs[dedupKey(it)] = true
			}

		case <-grace:
			if err := switchOver(true); err != nil {
				return err
			}
		}
	}
}

func (s *Session) heartbeat(ctx context.Context, conn *websocket.Conn) {
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if writeFrame(ctx, conn, `{"topic":"aws/heartbeat"}`) != nil || writeFrame(ctx, conn, `{"topic":"aws/ping"}`) != nil {
			conn.CloseNow() // the reader fails and the session reconnects
			return
		}
		s.mu.Lock()
		refresh := !s.tokenExpiry.IsZero() && time.Until(s.tokenExpiry) < time.Minute
		s.mu.Unlock()
		if refresh {
			// As ChatJS does a minute before expiry: a new token, same socket.
			if _, _, err := s.createConnection(ctx, false); err != nil {
				s.log.Warn("refreshing the connection token", "err", err)
			}
		}
	}
}

// inTranscript reports whether the service keeps an item in the
// transcript, which is where a catch-up can find it again.
func inTranscript(it Item) bool {
	switch it.Type {
	case "MESSAGE", "ATTACHMENT":
		return true
	case "EVENT":
		for _, kept := range []string{"participant.joined", "participant.left", "chat.ended", "participant.invited", "transfer."} {
			if strings.HasPrefix(it.ContentType, eventPrefix+kept) {
				return true
			}
		}
	}
	return false
}

// deliver passes an item on unless it was delivered already. It reports
// false when the session is closing.
func (s *Session) deliver(ctx context.Context, it Item) bool {
	s.mu.Lock()
	if !s.seen.add(dedupKey(it)) {
		s.mu.Unlock()
		return true
	}
	if inTranscript(it) && !s.isVerdictUpdate(it) {
		s.lastItem, s.lastTime = it.ID, it.Time
	}
	s.mu.Unlock()
	return s.emit(ctx, classify(it))
}

// isVerdictUpdate reports whether it is the verdict on an attachment that
// was announced IN_PROGRESS before. The transcript updates the announced
// item in place, so the verdict's own item id may not be in it and is no
// place to catch up from (GetTranscript refuses an unknown start id).
func (s *Session) isVerdictUpdate(it Item) bool {
	if it.Type != "ATTACHMENT" || len(it.Attachments) == 0 || it.Attachments[0].Status == "IN_PROGRESS" {
		return false
	}
	return s.seen.has(it.Attachments[0].ID + "/IN_PROGRESS")
}

func (s *Session) emit(ctx context.Context, e Event) bool {
	select {
	case s.events <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// catchUp delivers the transcript items after the last one delivered.
func (s *Session) catchUp(ctx context.Context) error {
	s.mu.Lock()
	from, since := s.lastItem, s.lastTime
	s.mu.Unlock()
	err := s.catchUpWith(ctx, TranscriptOptions{Ascending: true, After: from})
	var invalid *ValidationException
	if from != "" && !since.IsZero() && errors.As(err, &invalid) {
		// The service refuses to start after that item (one it does not
		// keep in the transcript): start from its time instead; the items
		// delivered already are among the latest, and de-duplicated.
		s.log.Info("catching up from the last item's time", "item", from, "err", err)
		err = s.catchUpWith(ctx, TranscriptOptions{Ascending: true, since: since})
	}
	return err
}

func (s *Session) catchUpWith(ctx context.Context, opts TranscriptOptions) error {
	for it, err := range s.Transcript(ctx, opts) {
		if err != nil {
			if isAccessDenied(err) {
				s.emit(ctx, &ChatEnded{})
				return errChatEnded
			}
			return err
		}
		if !s.deliver(ctx, it) {
			return ctx.Err()
		}
		if it.ContentType == eventPrefix+"chat.ended" {
			return errChatEnded
		}
	}
	return nil
}

// Close stops the session without leaving the chat: the participant can
// connect again later. It interrupts a Connect in flight, and returns once
// Events is closed.
func (s *Session) Close() error {
	s.mu.Lock()
	prev := s.state
	s.state = stateClosed
	if prev == stateNew {
		// Nothing else will ever touch Events: Connect refuses from now on.
		close(s.events)
		close(s.done)
	} else if prev != stateClosed {
		s.stop() // ends the run loop, or the Connect in flight
	}
	s.mu.Unlock()
	<-s.done
	return nil
}

// dedupWindow is how many delivered items the session remembers to
// de-duplicate. A catch-up replays only from the last transcript item
// delivered, so duplicates are always among the latest few; the window
// keeps memory flat over a chat of any length.
const dedupWindow = 1024

// recent is a set of the last dedupWindow keys added.
type recent struct {
	keys  map[string]struct{}
	order [dedupWindow]string // a ring: next is the oldest once full
	next  int
}

// has reports whether key is among the last keys added.
func (r *recent) has(key string) bool {
	_, ok := r.keys[key]
	return ok
}

// add adds key and reports whether it was new.
func (r *recent) add(key string) bool {
	if _, ok := r.keys[key]; ok {
		return false
	}
	if old := r.order[r.next]; old != "" {
		delete(r.keys, old)
	}
	r.order[r.next] = key
	r.next = (r.next + 1) % dedupWindow
	r.keys[key] = struct{}{}
	return true
}

// Disconnect leaves the chat (DisconnectParticipant). For a customer, or the
// last agent, that ends the chat; the session's Events then delivers the
// ChatEnded and closes.
func (s *Session) Disconnect(ctx context.Context) error {
	return s.call(ctx, "POST", "/participant/disconnect", s.connectionToken(), map[string]string{"ClientToken": newClientToken()}, nil)
}
