package chat

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TestAbandonedQueuedChatsEnd: a queued chat of the watched flow whose
// customer has had no socket for After ends as StopContact ends a chat (a
// chat.ended item last); one whose customer is connected, one an agent
// accepted and one of another flow go on.
func TestAbandonedQueuedChatsEnd(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: time.Now()}
	svc := newService(t, st, clk)
	start := func(flow string) StartChatOutput {
		out, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: flow, DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gone, here, accepted, other := start("web"), start("web"), start("web"), start("api")
	if _, err := svc.AddParticipant(ctx, "i", accepted.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	present := map[string]bool{here.ParticipantID: true}
	w := &AbandonWatch{FlowID: "web", After: time.Minute, Present: func(id string) bool {
		mu.Lock()
		defer mu.Unlock()
		return present[id]
	}}
	state := func(c StartChatOutput) (string, string) {
		k, err := st.Contact(ctx, c.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		return k.State, k.DisconnectReason
	}

	if err := w.sweep(ctx, svc); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	if err := w.sweep(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if s, _ := state(gone); s != store.ContactQueued {
		t.Fatalf("ended before its time: %s", s)
	}
	clk.Add(2 * time.Second)
	mu.Lock()
	present[here.ParticipantID] = false // the page closes now
	mu.Unlock()
	if err := w.sweep(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if s, reason := state(gone); s != store.ContactEnded || reason != ReasonNotConnected {
		t.Errorf("the abandoned chat: %s, %s", s, reason)
	}
	items, err := st.Transcript(ctx, gone.ContactID, 1<<62, false, 1)
	if err != nil || len(items) != 1 || items[0].ContentType != EventChatEnded {
		t.Errorf("the abandoned chat's last item: %+v, %v", items, err)
	}
	for name, c := range map[string]StartChatOutput{"connected": here, "accepted": accepted, "another flow's": other} {
		if s, _ := state(c); s == store.ContactEnded {
			t.Errorf("the %s chat ended", name)
		}
	}
	clk.Add(61 * time.Second) // a minute since its customer's socket closed
	if err := w.sweep(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if s, _ := state(here); s != store.ContactEnded {
		t.Errorf("a minute after its customer left the chat is %s", s)
	}
	if s, _ := state(accepted); s != store.ContactConnected {
		t.Errorf("the accepted chat is %s", s)
	}
}

// TestAbandonEndIsConditional: a chat accepted between the sweep's look and
// its end is not ended.
func TestAbandonEndIsConditional(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	svc := newService(t, st, &clock{t: time.Now()})
	out, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "web", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddParticipant(ctx, "i", out.ContactID, RoleAgent, "Grace", ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.endAbandoned(ctx, out.ContactID); err != nil {
		t.Fatal(err)
	}
	if k, _ := st.Contact(ctx, out.ContactID); k.State != store.ContactConnected {
		t.Errorf("an accepted chat was ended as abandoned: %s", k.State)
	}
}

func TestQueueToken(t *testing.T) {
	at := time.UnixMilli(1700000000123).UTC()
	got, id, ok := parseQueueToken(queueToken(at, "abc-1"))
	if !ok || !got.Equal(at) || id != "abc-1" {
		t.Errorf("round trip: %v %s %v", got, id, ok)
	}
	for _, bad := range []string{"", "!!", "bm90aGluZw", "LTEgeA"} {
		if _, _, ok := parseQueueToken(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}
