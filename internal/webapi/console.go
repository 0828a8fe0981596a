package webapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/store"
)

// QueueSignal tells the consoles' event streams that the queue may have
// changed. The store's commit hook feeds it every committed item; it wakes
// the streams only for items that can change what the queue shows (a chat
// starting, joined, left or ended, a customer's message for the preview).
type QueueSignal struct {
	mu sync.Mutex
	ch chan struct{}
	// agents closes when an agent joins or leaves a chat, or one ends: a
	// console's other tabs then learn of chats accepted elsewhere.
	agents chan struct{}
	done   chan struct{}
	closed bool
	// answered holds the chats an agent joined while this process ran:
	// their customers' messages no longer change the queue's previews.
	// A chat leaves it when it ends; in a cluster a chat may end on
	// another node, unseen here, so it starts over past maxAnswered (a
	// forgotten chat's customer messages only wake the consoles again).
	answered map[string]bool
}

// maxAnswered bounds QueueSignal.answered.
const maxAnswered = 100_000

// NewQueueSignal returns a signal; Close ends every stream waiting on it.
func NewQueueSignal() *QueueSignal {
	return &QueueSignal{ch: make(chan struct{}), agents: make(chan struct{}), done: make(chan struct{}), answered: map[string]bool{}}
}

// Notify is fed every committed item (from the store's commit hook). It
// reports what it woke, so that a cluster can wake the other nodes' consoles.
func (q *QueueSignal) Notify(items []store.Item) (queue, agents bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range items {
		switch {
		case it.ContentType == chat.EventParticipantJoined:
			if it.Role == chat.RoleAgent {
				if len(q.answered) >= maxAnswered {
					q.answered = map[string]bool{}
				}
				q.answered[it.ContactID] = true
				agents = true
			}
			queue = true
		case it.ContentType == chat.EventChatEnded:
			delete(q.answered, it.ContactID)
			queue, agents = true, true
		case it.ContentType == chat.EventParticipantLeft:
			queue = true
			agents = agents || it.Role == chat.RoleAgent
		case it.Type == chat.TypeMessage && it.Role == chat.RoleCustomer && !q.answered[it.ContactID]:
			queue = true // perhaps a waiting chat's first message, which the queue previews
		}
	}
	q.wake(queue, agents)
	return queue, agents
}

// Wake wakes the streams as another node's Notify did.
func (q *QueueSignal) Wake(queue, agents bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.wake(queue, agents)
}

func (q *QueueSignal) wake(queue, agents bool) {
	if queue {
		close(q.ch)
		q.ch = make(chan struct{})
	}
	if agents {
		close(q.agents)
		q.agents = make(chan struct{})
	}
}

func (q *QueueSignal) changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ch
}

func (q *QueueSignal) agentsChanged() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.agents
}

// Close ends the streams, so that a server shutting down need not wait for
// them (http.Server.Shutdown waits for every request in flight).
func (q *QueueSignal) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// pushGap is the least time between two pushes of one stream: a busy queue
// costs each console at most a few queue reads a second.
const pushGap = 250 * time.Millisecond

// keepAlive is how often an idle stream sends a comment, so that proxies
// keep it open and a dead console is noticed.
const keepAlive = 20 * time.Second

// events streams server-sent events to the console: "queue" whenever the
// queue may have changed (and once at the start), for the console to read
// the page it shows, and "chats" when an agent joined or left a chat, for
// the console to read its agent's chats (accepted in another tab). It
// replaces polling; the console reconnects if it drops.
func (a *API) events(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	if a.signal == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"Message": "This server does not push queue changes."})
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		if _, err := w.Write([]byte(s)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	ctx := r.Context()
	changed, agents := a.signal.changed(), a.signal.agentsChanged()
	if !send("retry: 2000\nevent: queue\ndata: {}\n\n") {
		return
	}
	idle := time.NewTimer(keepAlive)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.signal.done:
			return
		case <-idle.C:
			if !send(": still here\n\n") {
				return
			}
			idle.Reset(keepAlive)
			continue
		case <-changed:
		case <-agents:
		}
		// Gather what else changes meanwhile into this one push.
		if !sleep(ctx, a.signal.done, pushGap) {
			return
		}
		var events string
		select {
		case <-changed:
			changed, events = a.signal.changed(), "event: queue\ndata: {}\n\n"
		default:
		}
		select {
		case <-agents:
			agents, events = a.signal.agentsChanged(), events+"event: chats\ndata: {}\n\n"
		default:
		}
		if !send(events) {
			return
		}
		idle.Reset(keepAlive)
	}
}

func sleep(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-done:
		return false
	case <-t.C:
		return true
	}
}

// myChats lists the live chats the agent holds, so that a new tab or a
// fresh sign-in shows them all.
func (a *API) myChats(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	mine, err := a.chat.AgentChats(r.Context(), agent)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	// A chat the agent monitors says so, with what the monitor may do, so
	// that a reopened console offers "Barge in" there as it did before.
	type myChat struct {
		waiting
		Monitoring   bool     `json:",omitempty"`
		Capabilities []string `json:",omitempty"`
		Barged       *bool    `json:",omitempty"`
	}
	out := struct{ Chats []myChat }{Chats: []myChat{}}
	for _, p := range mine {
		info, err := a.info(r, agent, p.ContactID)
		if chat.KindOf(err) == chat.AccessDenied || chat.KindOf(err) == chat.NotFound {
			continue // it ended meanwhile
		}
		if err != nil {
			fail(w, a.log, err)
			return
		}
		info.ParticipantId = p.ID
		c := myChat{waiting: info}
		if p.Role == chat.RoleSupervisor {
			c.Monitoring, c.Capabilities, c.Barged = true, p.MonitorCapabilities, &p.Barged
		}
		out.Chats = append(out.Chats, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// connection opens a connection for the agent's participant in a chat it
// holds, in CreateParticipantConnection's shape.
func (a *API) connection(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	conn, err := a.chat.AgentConnect(r.Context(), agent, r.PathValue("contactId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Websocket":             map[string]string{"Url": conn.WebsocketURL, "ConnectionExpiry": awswire.FormatTime(conn.WebsocketExpiry)},
		"ConnectionCredentials": map[string]string{"ConnectionToken": conn.ConnectionToken, "Expiry": awswire.FormatTime(conn.TokenExpiry)},
	})
}

// leave takes the agent out of a chat, for one abandoned in a lost tab.
func (a *API) leave(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	if err := a.chat.AgentLeave(r.Context(), agent, r.PathValue("contactId")); err != nil {
		fail(w, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// transcript answers every item of a chat the agent was in, in
// GetTranscript's item shape, after the chat ended too.
func (a *API) transcript(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	items, err := a.chat.AgentTranscript(r.Context(), agent, r.PathValue("contactId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeTranscript(w, items)
}

// attachment answers a download URL of a file of a chat the agent was in,
// in GetAttachment's shape.
func (a *API) attachment(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	url, size, err := a.chat.AgentAttachment(r.Context(), agent, r.PathValue("contactId"), r.PathValue("attachmentId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Url": url, "AttachmentSizeInBytes": size})
}

// status sets the agent Available or Away; an Away agent's queue is empty
// and Accept refuses it.
func (a *API) status(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	var in struct{ Status string }
	if err := awswire.DecodeJSON(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "The request body must be JSON with a Status."})
		return
	}
	if err := a.chat.SetAgentStatus(r.Context(), agent, in.Status); err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"Name": agent.Name, "Status": in.Status})
}

type cannedOut struct{ Id, Shortcut, Text string }

func (a *API) cannedList(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	list, err := a.chat.CannedResponses(r.Context())
	if err != nil {
		fail(w, a.log, err)
		return
	}
	out := struct{ Canned []cannedOut }{Canned: []cannedOut{}}
	for _, c := range list {
		out.Canned = append(out.Canned, cannedOut{c.ID, c.Shortcut, c.Text})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) cannedAdd(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	var in struct{ Shortcut, Text string }
	if err := awswire.DecodeJSON(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "The request body must be JSON with a Shortcut and a Text."})
		return
	}
	c, err := a.chat.AddCanned(r.Context(), in.Shortcut, in.Text)
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, cannedOut{c.ID, c.Shortcut, c.Text})
}

func (a *API) cannedRemove(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	if err := a.chat.RemoveCanned(r.Context(), r.PathValue("id")); err != nil {
		fail(w, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// past lists the customer's other chats (by the CustomerId attribute).
func (a *API) past(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	list, err := a.chat.PastChats(r.Context(), agent, r.PathValue("contactId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	type pastOut struct {
		ContactId, StartedAt, Preview string
		Rating                        string `json:",omitempty"`
	}
	out := struct{ Chats []pastOut }{Chats: []pastOut{}}
	for _, p := range list {
		out.Chats = append(out.Chats, pastOut{ContactId: p.Contact.ID, StartedAt: awswire.FormatTime(p.Contact.CreatedAt),
			Preview: p.Preview, Rating: p.Contact.Attributes[RatingAttribute]})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) pastTranscript(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	items, err := a.chat.PastTranscript(r.Context(), agent, r.PathValue("contactId"), r.PathValue("pastId"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	writeTranscript(w, items)
}

// search finds messages in the chats the agent was in.
func (a *API) search(w http.ResponseWriter, r *http.Request, agent store.Agent) {
	found, err := a.chat.SearchMessages(r.Context(), agent, r.URL.Query().Get("q"))
	if err != nil {
		fail(w, a.log, err)
		return
	}
	type hit struct{ ContactId, Customer, Content, AbsoluteTime string }
	out := struct{ Results []hit }{Results: []hit{}}
	for _, m := range found {
		out.Results = append(out.Results, hit{m.Item.ContactID, m.Customer, m.Item.Content, awswire.FormatTime(m.Item.Time)})
	}
	writeJSON(w, http.StatusOK, out)
}

// writeTranscript answers items in GetTranscript's item shape.
func writeTranscript(w http.ResponseWriter, items []store.Item) {
	out := struct{ Transcript []chatwire.Item }{Transcript: make([]chatwire.Item, 0, len(items))}
	for _, it := range items {
		out.Transcript = append(out.Transcript, chatwire.FromStore(it))
	}
	writeJSON(w, http.StatusOK, out)
}
