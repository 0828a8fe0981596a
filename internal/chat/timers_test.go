package chat

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// fakeTimers is a scheduler the test fires by hand.
type fakeTimers struct {
	mu      sync.Mutex
	pending []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (ft *fakeTimers) AfterFunc(d time.Duration, f func()) Stopper {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{d: d, f: f}
	ft.pending = append(ft.pending, t)
	return t
}

// fire runs every live timer of duration d, returning how many ran.
func (ft *fakeTimers) fire(d time.Duration) int {
	ft.mu.Lock()
	var due []*fakeTimer
	for _, t := range ft.pending {
		if t.d == d && !t.stopped {
			t.stopped = true
			due = append(due, t)
		}
	}
	ft.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}

// published collects what the store commits, as the broker would see it.
type published struct {
	mu    sync.Mutex
	items []store.Item
}

func (p *published) hook(items []store.Item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items = append(p.items, items...)
}

func (p *published) contentTypes(participantID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, it := range p.items {
		if it.ParticipantID == participantID || (participantID == "" && it.ParticipantID == "") {
			out = append(out, it.ContentType)
		}
	}
	return out
}

func TestIdleReturnedAndAutoDisconnect(t *testing.T) {
	ctx := context.Background()
	pub := &published{}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ft := &fakeTimers{}
	svc := New(Config{InstanceID: "i", QueueID: "q", AfterFunc: ft.AfterFunc, WebsocketURL: func(string) string { return "" }},
		st, secret.Key{1}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()

	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	err = svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{
		{Role: RoleCustomer, Type: TimerIdle, Minutes: 5},
		{Role: RoleCustomer, Type: TimerDisconnect, Minutes: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateTimers(ctx, "i", chat.ContactID, []TimerUpdate{{Role: RoleAgent, Type: TimerIdle, Minutes: 2}, {Role: RoleAgent, Type: TimerIdle, Minutes: 3}}); KindOf(err) != Invalid {
		t.Errorf("a duplicate timer: %v, want Invalid", err)
	}

	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	cust := chat.ParticipantID

	if n := ft.fire(5 * time.Minute); n != 1 {
		t.Fatalf("%d idle timers fired, want the customer's", n)
	}
	if _, err := svc.SendMessage(ctx, sess, ContentPlain, "still here", ""); err != nil {
		t.Fatal(err)
	}
	// The disconnect timer of the first idle spell was cancelled by returning.
	if n := ft.fire(3 * time.Minute); n != 0 {
		t.Errorf("%d auto-disconnect timers fired after the customer returned", n)
	}
	ft.fire(5 * time.Minute)
	ft.fire(3 * time.Minute)

	want := []string{EventParticipantJoined, EventParticipantIdle, EventParticipantReturned, ContentPlain,
		EventParticipantIdle, EventParticipantAutoDisconnection, EventParticipantLeft}
	got := pub.contentTypes(cust)
	if len(got) != len(want) {
		t.Fatalf("customer's items %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("customer's items %v, want %v", got, want)
		}
	}
	c, _, _ := svc.Contact(ctx, "i", chat.ContactID)
	if c.State != store.ContactEnded || c.DisconnectReason != ReasonCustomer {
		t.Errorf("after the customer was auto-disconnected: %s %s", c.State, c.DisconnectReason)
	}
	if items, _ := st.Transcript(ctx, chat.ContactID, 0, true, 100); len(items) != 5 { // 2 joined, message, left, ended
		t.Errorf("transcript has %d items; idle and returned events are live-only", len(items))
	}
}
