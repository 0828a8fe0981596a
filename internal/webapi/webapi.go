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
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/store"
)

// Config configures the public start-chat endpoint.
type Config struct {
	// Enabled turns the endpoint on (it is, by default, for a local serve).
	Enabled bool
	// Origins may call it from a browser; "*" allows any.
	Origins []string
	// PerMinute is how many chats one client address may start a minute.
	PerMinute int
}

// API is the web UI's API.
type API struct {
	cfg     Config
	chat    *chat.Service
	log     *slog.Logger
	limiter *limiter
}

// New returns the API.
func New(cfg Config, svc *chat.Service, log *slog.Logger) *API {
	return &API{cfg: cfg, chat: svc, log: log, limiter: newLimiter(cfg.PerMinute)}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /widget/v1/chats", a.startChat)
	mux.HandleFunc("OPTIONS /widget/v1/chats", a.startChat)
	mux.HandleFunc("GET /widget/v1/attachment-limits", a.attachmentLimits)
	mux.HandleFunc("GET /agent/v1/me", a.agent(a.me))
	mux.HandleFunc("GET /agent/v1/queue", a.agent(a.queue))
	mux.HandleFunc("POST /agent/v1/chats/{contactId}/accept", a.agent(a.accept))
	mux.HandleFunc("GET /agent/v1/chats/{contactId}", a.agent(a.chatInfo))
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
// no browser page (or from Parley's own, same-origin) and passes.
func (a *API) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || sameOrigin(r, origin) {
		return true
	}
	if !slices.Contains(a.cfg.Origins, "*") && !slices.Contains(a.cfg.Origins, origin) {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Add("Vary", "Origin")
	return true
}

func sameOrigin(r *http.Request, origin string) bool {
	_, host, ok := strings.Cut(origin, "://")
	return ok && host == r.Host
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
	if !a.limiter.allow(clientAddr(r), time.Now()) {
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
	out, err := a.chat.StartChat(r.Context(), chat.StartChatInput{
		InstanceID: a.chat.InstanceID(), FlowID: "web-widget", DisplayName: in.DisplayName, Attributes: in.Attributes,
		ContentTypes: []string{chat.ContentPlain, chat.ContentMarkdown},
	})
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

// clientAddr is the address a rate limit applies to.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type agentHandler func(w http.ResponseWriter, r *http.Request, agent store.Agent)

// agent authenticates the console's agent by its key, sent as a bearer
// token (never a cookie, so no request can be forged across sites).
func (a *API) agent(h agentHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || key == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"Message": "Sign in with your agent key."})
			return
		}
		agent, err := a.chat.AuthenticateAgent(r.Context(), key)
		if err != nil {
			fail(w, a.log, err)
			return
		}
		h(w, r, agent)
	}
}

func (a *API) me(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	writeJSON(w, http.StatusOK, map[string]string{"Name": agent.Name})
}

type waiting struct {
	ContactId    string
	CustomerName string
	Attributes   map[string]string
	WaitingSince string
}

func (a *API) queue(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	q, err := a.chat.Queue(r.Context())
	if err != nil {
		fail(w, a.log, err)
		return
	}
	out := struct{ Waiting []waiting }{Waiting: []waiting{}}
	for _, c := range q {
		out.Waiting = append(out.Waiting, waiting{ContactId: c.Contact.ID, CustomerName: c.Customer.DisplayName,
			Attributes: c.Contact.Attributes, WaitingSince: awswire.FormatTime(c.Contact.CreatedAt)})
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
	writeJSON(w, http.StatusOK, map[string]any{"ContactId": contactID, "ParticipantId": p.ParticipantID,
		"ParticipantToken": p.ParticipantToken, "CustomerName": info.CustomerName, "Attributes": info.Attributes})
}

// info is what the console shows of a chat the agent is in.
func (a *API) info(r *http.Request, agent store.Agent, contactID string) (waiting, error) {
	mine, err := a.chat.AgentChats(r.Context(), agent)
	if err != nil {
		return waiting{}, err
	}
	if !slices.ContainsFunc(mine, func(p store.Participant) bool { return p.ContactID == contactID }) {
		return waiting{}, &chat.Error{Kind: chat.AccessDenied, Message: "You are not in this chat."}
	}
	c, ps, err := a.chat.Contact(r.Context(), a.chat.InstanceID(), contactID)
	if err != nil {
		return waiting{}, err
	}
	out := waiting{ContactId: c.ID, Attributes: c.Attributes, WaitingSince: awswire.FormatTime(c.CreatedAt)}
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

// limiter is a token bucket per client address: perMinute tokens, refilled
// continuously.
type limiter struct {
	mu        sync.Mutex
	perMinute float64
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMinute: float64(perMinute), buckets: make(map[string]*bucket)}
}

func (l *limiter) allow(addr string, now time.Time) bool {
	if l.perMinute <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 10000 { // forget full buckets, so memory stays bounded
		for k, b := range l.buckets {
			if now.Sub(b.at) > time.Minute {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{tokens: l.perMinute, at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.perMinute, b.tokens+now.Sub(b.at).Minutes()*l.perMinute)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
