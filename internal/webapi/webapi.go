// Package webapi serves Parley's own HTTP API for its web UI: the public
// start-chat endpoint the customer widget uses (what Amazon Connect users
// deploy a small backend for, since StartChatContact needs keys a browser
// must never hold), and the agent console's queue and accept calls. Chats
// themselves then run on the participant API and websocket, as with ChatJS.
package webapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/netlimit"
	"github.com/parleychat/parley/internal/realip"
	"github.com/parleychat/parley/internal/store"
)

// FlowID is the flow of the chats the widget starts: the ceiling on waiting
// chats and the end of abandoned ones apply to these only, never to chats
// started through the Connect API.
const FlowID = "web-widget"

// Defaults for a Config left zero.
const (
	DefaultPerMinute = 30
	DefaultMaxQueued = 200
	// DefaultQueuePage is how many waiting chats the console gets at once.
	DefaultQueuePage = 25
)

// Config configures the public start-chat endpoint.
type Config struct {
	// Enabled turns the endpoint on (it is, by default, for a local serve).
	Enabled bool
	// PublicURL is the server's public base URL: pages of its origin are
	// Parley's own. The request's Host header is never trusted for this, as
	// DNS rebinding lets any page send its own name there.
	PublicURL string
	// Origins may call it from a browser; "*" allows any.
	Origins []string
	// PerMinute is how many chats one client (an IPv4 address, an IPv6 /64)
	// may start a minute; zero means DefaultPerMinute, never "no limit".
	PerMinute int
	// MaxQueued is how many widget chats may wait for an agent at once;
	// zero means DefaultMaxQueued.
	MaxQueued int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client.
	TrustedProxies []netip.Prefix
	// Signal, if set, pushes queue changes to the consoles (GET
	// /agent/v1/events); the server feeds it from the store's commit hook.
	Signal *QueueSignal
	// Branding is how the widget looks (GET /widget/v1/config).
	Branding config.Branding
}

// API is the web UI's API.
type API struct {
	cfg       Config
	ownOrigin string
	chat      *chat.Service
	log       *slog.Logger
	limiter   *netlimit.Limiter
	signins   *logLimiter
	signal    *QueueSignal
	waits     waitTimes
}

// New returns the API.
func New(cfg Config, svc *chat.Service, log *slog.Logger) *API {
	if cfg.PerMinute < 1 {
		cfg.PerMinute = DefaultPerMinute
	}
	if cfg.MaxQueued < 1 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	// Browsers send an origin in one spelling: lower case, no default
	// port. An operator's https://Shop.Example.com:443 is that origin too.
	origins := make([]string, 0, len(cfg.Origins))
	for _, o := range cfg.Origins {
		if n := originOf(o); n != "" {
			o = n
		}
		origins = append(origins, o)
	}
	cfg.Origins = origins
	return &API{cfg: cfg, ownOrigin: originOf(cfg.PublicURL), chat: svc, log: log, limiter: widgetLimiter(cfg.PerMinute),
		signins: &logLimiter{perMinute: 10}, signal: cfg.Signal}
}

// originOf returns the origin a browser sends for pages under base, "" if
// base is no http(s) URL.
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return u.Scheme + "://" + host
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /widget/v1/chats", a.startChat)
	mux.HandleFunc("OPTIONS /widget/v1/chats", a.startChat)
	mux.HandleFunc("GET /widget/v1/attachment-limits", a.attachmentLimits)
	mux.HandleFunc("GET /widget/v1/config", a.branding)
	mux.HandleFunc("POST /widget/v1/status", a.waitStatus)
	mux.HandleFunc("POST /widget/v1/rating", a.rate)
	mux.HandleFunc("OPTIONS /widget/v1/rating", a.rate)
	mux.HandleFunc("POST "+SamplePath, a.startSample)
	mux.HandleFunc("OPTIONS "+SamplePath, a.startSample)
	mux.HandleFunc("GET /agent/v1/me", a.agent(a.me))
	mux.HandleFunc("GET /agent/v1/queue", a.agent(a.queue))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/accept", a.agent(a.accept))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}", a.agent(a.chatInfo))
	mux.HandleFunc("GET /agent/v1/events", a.agent(a.events))
	mux.HandleFunc("GET /agent/v1/chats", a.agent(a.myChats))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/connection", a.agent(a.connection))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/leave", a.agent(a.leave))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}/transcript", a.agent(a.transcript))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}/attachments/{attachmentId}", a.agent(a.attachment))
	mux.HandleFunc("PUT /agent/v1/status", a.agent(a.status))
	mux.HandleFunc("GET /agent/v1/canned", a.agent(a.cannedList))
	mux.HandleFunc("POST /agent/v1/canned", a.agent(a.cannedAdd))
	mux.HandleFunc("DELETE /agent/v1/canned/{id}", a.agent(a.cannedRemove))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}/past", a.agent(a.past))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}/past/{pastId}/transcript", a.agent(a.pastTranscript))
	mux.HandleFunc("GET /agent/v1/search", a.agent(a.search))
	mux.HandleFunc("GET /agent/v1/agents", a.agent(a.agents))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/transfer", a.agent(a.transfer))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/monitor", a.agent(a.monitor))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/barge", a.agent(a.barge))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, log *slog.Logger, err error) {
	var e *chat.Error
	if !errors.As(err, &e) {
		log.Error("web API", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"Message": "An internal error occurred."})
		return
	}
	status := map[chat.Kind]int{chat.Invalid: 400, chat.NotFound: 404, chat.AccessDenied: 403, chat.Ended: 410,
		chat.Conflict: 409, chat.QuotaExceeded: 429}[e.Kind]
	writeJSON(w, status, map[string]string{"Message": e.Message})
}

// allowOrigin applies the origin rule; a request without Origin comes from
// no browser page and passes, as does one from Parley's own pages (the
// public URL's origin).
func (a *API) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || (a.ownOrigin != "" && strings.EqualFold(origin, a.ownOrigin)) {
		return true
	}
	if !slices.Contains(a.cfg.Origins, "*") && !slices.Contains(a.cfg.Origins, origin) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Add("Vary", "Origin")
	return true
}

type startChatIn struct {
	DisplayName string
	Attributes  map[string]string
}

func (a *API) startChat(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Enabled {
		writeJSON(w, http.StatusNotFound, map[string]string{"Message": "Starting chats from the web is turned off on this server."})
		return
	}
	if !a.allowOrigin(w, r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"Message": "This origin may not start chats."})
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !a.limiter.Allow(realip.Key(a.client(r))) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"Message": "Too many chats started from this address; try again in a minute."})
		return
	}
	var in startChatIn
	if err := awswire.DecodeJSON(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "The request body must be JSON with a DisplayName."})
		return
	}
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if n := utf8.RuneCountInString(in.DisplayName); n < 1 || n > 256 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "DisplayName must be 1 to 256 characters."})
		return
	}
	size := 0
	for k, v := range in.Attributes {
		size += len(k) + len(v)
	}
	if size > 32768 || len(in.Attributes) > 50 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "Attributes may hold at most 50 entries and 32 KB."})
		return
	}
	// What a browser sends is the customer's word: it is kept apart from
	// the attributes the Connect API sets, and the console labels it so.
	out, err := a.chat.StartChat(r.Context(), chat.StartChatInput{
		InstanceID: a.chat.InstanceID(), FlowID: FlowID, DisplayName: in.DisplayName, CustomerAttributes: in.Attributes,
		ContentTypes: []string{chat.ContentPlain, chat.ContentMarkdown, chat.ContentInteractive, chat.ContentInteractiveResponse}, MaxQueued: a.cfg.MaxQueued,
	})
	if errors.Is(err, chat.ErrQueueFull) {
		// The server's capacity, not this client's rate: 503, and the
		// message is plain words the widget shows as they are.
		w.Header().Set("Retry-After", "120")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"Message": chat.ErrQueueFull.Message})
		return
	}
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"ContactId": out.ContactID, "ParticipantId": out.ParticipantID, "ParticipantToken": out.ParticipantToken})
}

// attachmentLimits tells the pages what files the instance takes, so that
// they can say so before uploading; the server enforces the same rules.
func (a *API) attachmentLimits(w http.ResponseWriter, r *http.Request) {
	l, _, err := a.chat.Limits(r.Context(), a.chat.InstanceID(), chat.ScopeChat)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"MaximumSizeLimitInBytes": l.MaxBytes, "AllowedExtensions": l.Extensions})
}

// client is the address of the client behind r, through trusted proxies.
func (a *API) client(r *http.Request) netip.Addr {
	return realip.From(r, a.cfg.TrustedProxies)
}

type agentHandler func(w http.ResponseWriter, r *http.Request, agent store.Agent)

// agent authenticates the console's agent by its key, sent as a bearer
// token (never a cookie, so no request can be forged across sites).
func (a *API) agent(h agentHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			a.signinFailed(r, "no key")
			writeJSON(w, http.StatusUnauthorized, map[string]string{"Message": "Sign in with your agent key."})
			return
		}
		agent, err := a.chat.AuthenticateAgent(r.Context(), key)
		if err != nil {
			if chat.KindOf(err) == chat.AccessDenied {
				a.signinFailed(r, "unknown key")
			}
			fail(w, a.log, err)
			return
		}
		h(w, r, agent)
	}
}

// signinFailed logs a refused console request: who (the client address)
// and why, never the key. A guessing attack would fill the log, so at most
// a few lines a minute are written, and then how many were left out.
func (a *API) signinFailed(r *http.Request, why string) {
	if ok, skipped := a.signins.allow(time.Now()); ok {
		if skipped > 0 {
			a.log.Warn("console sign-in failures not logged", "count", skipped)
		}
		a.log.Warn("console sign-in failed", "reason", why, "client", a.client(r).String(), "path", r.URL.Path)
	}
}

func (a *API) me(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	status := agent.Status
	if status == "" {
		status = store.AgentAvailable
	}
	// Id is the agent's UserId, as MonitorContact takes it.
	writeJSON(w, http.StatusOK, map[string]string{"Name": agent.Name, "Id": agent.ID, "Status": status})
}

// waiting is a chat as the console shows it. Attributes were set through
// the Connect API; CustomerAttributes are what the customer's browser sent,
// unverified, and the console labels them so.
type waiting struct {
	ContactId          string
	ParticipantId      string `json:",omitempty"`
	CustomerName       string
	Attributes         map[string]string
	CustomerAttributes map[string]string
	WaitingSince       string
	Preview            string `json:",omitempty"`
	// TransferTo is the id of the agent a transferred chat waits for.
	TransferTo string `json:",omitempty"`
	// ContentTypes are the chat's SupportedMessagingContentTypes: the
	// console sends Markdown only where it is one.
	ContentTypes []string
	createdAt    time.Time
}

func newWaiting(c store.Contact, customerName string) waiting {
	w := waiting{ContactId: c.ID, CustomerName: customerName, Attributes: c.Attributes,
		CustomerAttributes: c.CustomerAttributes, WaitingSince: awswire.FormatTime(c.CreatedAt), TransferTo: c.TransferTo,
		createdAt: c.CreatedAt, ContentTypes: c.ContentTypes}
	if w.Attributes == nil {
		w.Attributes = map[string]string{}
	}
	if w.CustomerAttributes == nil {
		w.CustomerAttributes = map[string]string{}
	}
	return w
}

// queue answers a page of the waiting chats, oldest first, with how many
// wait in all and the NextToken of the next page (absent on the last).
// ?limit= sets the page size (1–100, default 25), ?next= continues.
func (a *API) queue(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	limit := DefaultQueuePage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "limit must be a whole number."})
			return
		}
		limit = n
	}
	if agent.Status == store.AgentAway {
		// An Away agent is offered no chats; how many wait still shows.
		n, err := a.chat.QueueLength(r.Context())
		if err != nil {
			fail(w, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"Waiting": []waiting{}, "Total": n, "Away": true})
		return
	}
	page, err := a.chat.Queue(r.Context(), r.URL.Query().Get("next"), limit)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	out := struct {
		Waiting   []waiting
		Total     int
		NextToken string `json:",omitempty"`
	}{Waiting: []waiting{}, Total: page.Total, NextToken: page.NextToken}
	for _, c := range page.Chats {
		w := newWaiting(c.Contact, c.Customer.DisplayName)
		w.Preview = c.Preview
		out.Waiting = append(out.Waiting, w)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) accept(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	contactID := r.PathValue("contactId")
	p, err := a.chat.Accept(r.Context(), agent, contactID)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	info, err := a.info(r, agent, contactID)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	a.waits.observe(time.Since(info.createdAt))
	writeJSON(w, http.StatusOK, map[string]any{"ContactId": contactID, "ParticipantId": p.ParticipantID,
		"ParticipantToken": p.ParticipantToken, "CustomerName": info.CustomerName, "Attributes": info.Attributes,
		"CustomerAttributes": info.CustomerAttributes, "ContentTypes": info.ContentTypes})
}

// info is what the console shows of a chat the agent is or was in (after
// the end, its attributes may still change: a customer's rating).
func (a *API) info(r *http.Request, agent store.Agent, contactID string) (waiting, error) {
	c, ps, err := a.chat.AgentContact(r.Context(), agent, contactID)
	if err != nil {
		return waiting{}, err
	}
	out := newWaiting(c, "")
	for _, p := range ps {
		if p.Role == chat.RoleCustomer {
			out.CustomerName = p.DisplayName
		}
	}
	return out, nil
}

func (a *API) chatInfo(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	info, err := a.info(r, agent, r.PathValue("contactId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// widgetLimiter allows perMinute chats a minute from one client address,
// all of them at once if it has been quiet. netlimit's limiter drops
// refilled buckets once a minute, not on every request, so many clients in
// one minute cost no scan per request.
func widgetLimiter(perMinute int) *netlimit.Limiter {
	return netlimit.NewLimiter(netlimit.Rate{PerSecond: float64(perMinute) / 60, Burst: perMinute})
}

// logLimiter lets perMinute lines through a minute and counts the rest.
type logLimiter struct {
	mu        sync.Mutex
	perMinute int
	window    time.Time
	n         int
	skipped   int
}

// allow reports whether a line may be written now, and how many were left
// out since the last one written.
func (l *logLimiter) allow(now time.Time) (ok bool, skipped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Minute {
		l.window, l.n = now, 0
	}
	if l.n >= l.perMinute {
		l.skipped++
		return false, 0
	}
	l.n++
	skipped, l.skipped = l.skipped, 0
	return true, skipped
}
