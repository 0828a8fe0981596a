package webapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/store"
)

// The attributes a customer's rating is stored in, on the contact, where
// agents, GetContactAttributes and exports see it.
const (
	RatingAttribute  = "CustomerRating"
	CommentAttribute = "CustomerRatingComment"
	// MaxComment is the longest rating comment, in characters.
	MaxComment = 1000
)

// branding answers how the widget looks, as the operator configured it.
func (a *API) branding(w http.ResponseWriter, r *http.Request) {
	b := a.cfg.Branding
	if b == (config.Branding{}) {
		b = config.Branding{Title: "Chat with us", Color: "#1f5fbf", Position: "right",
			Welcome: "Tell us your name and we will connect you with an agent."}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, b)
}

// customer authenticates a widget request by the customer's
// ConnectionToken, sent as the participant API takes it.
func (a *API) customer(w http.ResponseWriter, r *http.Request) (*chat.Session, bool) {
	sess, err := a.chat.Authenticate(r.Context(), r.Header.Get("X-Amz-Bearer"))
	if err == nil && sess.Participant.Role != chat.RoleCustomer {
		err = &chat.Error{Kind: chat.AccessDenied, Message: "Only the chat's customer may do this."}
	}
	if err != nil {
		fail(w, a.log, err)
		return nil, false
	}
	return sess, true
}

// waitStatus tells a waiting customer where they stand: their place in the
// queue, how many wait, and the wait to expect, estimated from the recent
// waits of chats agents accepted in the console (absent before there is
// one).
func (a *API) waitStatus(w http.ResponseWriter, r *http.Request) {
	if !a.allowOrigin(w, r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"Message": "This origin may not call the widget API."})
		return
	}
	sess, ok := a.customer(w, r)
	if !ok {
		return
	}
	out := map[string]any{"State": sess.Contact.State}
	if sess.Contact.State == store.ContactQueued {
		pos, total, err := a.chat.QueuePosition(r.Context(), sess.Contact.ID)
		if err != nil {
			fail(w, a.log, err)
			return
		}
		out["Position"], out["Waiting"] = pos, total
		if d, ok := a.waits.estimate(); ok {
			out["ExpectedWaitSeconds"] = int(math.Ceil(d.Seconds()))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// rate stores the customer's rating of a chat, 1 to 5, and a comment, as
// contact attributes.
func (a *API) rate(w http.ResponseWriter, r *http.Request) {
	if !a.allowOrigin(w, r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"Message": "This origin may not call the widget API."})
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Amz-Bearer")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	sess, ok := a.customer(w, r)
	if !ok {
		return
	}
	var in struct {
		Rating  int
		Comment string
	}
	if err := awswire.DecodeJSON(r, &in); err != nil || in.Rating < 1 || in.Rating > 5 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "Rating must be a whole number from 1 to 5."})
		return
	}
	in.Comment = strings.TrimSpace(in.Comment)
	if utf8.RuneCountInString(in.Comment) > MaxComment {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "The comment may be at most 1000 characters."})
		return
	}
	set := map[string]string{RatingAttribute: strconv.Itoa(in.Rating), CommentAttribute: in.Comment}
	err := a.chat.UpdateAttributes(r.Context(), sess.Contact.InstanceID, sess.Contact.ID, set)
	if err != nil {
		var e *chat.Error
		if errors.As(err, &e) && e.Kind == chat.Invalid {
			writeJSON(w, http.StatusBadRequest, map[string]string{"Message": "The rating could not be stored."})
			return
		}
		fail(w, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// waitTimes keeps a moving average of how long accepted chats waited.
type waitTimes struct {
	mu  sync.Mutex
	avg time.Duration
	n   int
}

func (t *waitTimes) observe(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.avg = d
	} else {
		t.avg += (d - t.avg) / 5 // the last few chats weigh most
	}
	t.n++
}

func (t *waitTimes) estimate() (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.avg, t.n > 0
}
