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

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newService(t *testing.T, st store.Store, clk *clock) *Service {
	t.Helper()
	svc := New(Config{InstanceID: "i", QueueID: "q", Now: clk.Now, WebsocketURL: func(tok string) string { return "ws://127.0.0.1:1/ws?token=" + tok }},
		st, secret.Key{7}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	return svc
}

func openStore(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestChatEndsWhenItsDurationRunsOut(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	clk := &clock{t: time.Now()}
	svc := newService(t, st, clk)

	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", DurationMins: 60})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SendMessage(ctx, sess, ContentPlain, "before", ""); err != nil {
		t.Fatal(err)
	}

	clk.Add(61 * time.Minute) // the wall-clock timer has not fired, but the chat is over
	if _, err := svc.SendMessage(ctx, sess, ContentPlain, "after", ""); KindOf(err) != AccessDenied {
		t.Fatalf("SendMessage after the duration: %v, want AccessDenied", err)
	}
	c, _, err := svc.Contact(ctx, "i", chat.ContactID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != store.ContactEnded || c.DisconnectReason != ReasonExpired {
		t.Errorf("contact after its duration: state %s, reason %q", c.State, c.DisconnectReason)
	}
	items, _ := st.Transcript(ctx, chat.ContactID, 0, true, 100)
	if last := items[len(items)-1]; last.ContentType != EventChatEnded {
		t.Errorf("last transcript item = %s, want chat.ended", last.ContentType)
	}
}

func TestStartEndsChatsThatExpiredWhileDown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Now().Add(-2 * time.Hour)} // the chat started two hours ago
	st := openStore(t, dir)
	svc := newService(t, st, clk)
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", DurationMins: 60})
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	// Two servers start on the store at once: the chat ends once.
	for range 2 {
		svc = newService(t, st, &clock{t: time.Now()})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := st.Contact(ctx, chat.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == store.ContactEnded {
			if c.DisconnectReason != ReasonExpired {
				t.Errorf("reason %q", c.DisconnectReason)
			}
			time.Sleep(100 * time.Millisecond) // room for a second, wrong, end
			items, err := st.Transcript(ctx, chat.ContactID, 0, true, 100)
			if err != nil {
				t.Fatal(err)
			}
			ended := 0
			for _, it := range items {
				if it.ContentType == EventChatEnded {
					ended++
				}
			}
			if ended != 1 {
				t.Errorf("%d chat.ended items, want 1", ended)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a chat whose duration ran out while the server was down was not ended at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func FuzzValidateInteractive(f *testing.F) {
	f.Add(`{"templateType":"ListPicker","version":"1.0","data":{"content":{"title":"t","elements":[{"title":"a"}]}}}`)
	f.Add(`{"templateType":"Carousel","version":"1.0","data":{"content":{"elements":[{"templateType":"Panel","version":"1.0","data":{"content":{"title":"p","elements":[{"title":"a"}]}}},{"templateType":"Panel","version":"1.0","data":{"content":{"title":"q","elements":[{"title":"b"}]}}}]}}}`)
	f.Add(`{"templateType":"TimePicker","version":"1.0","data":{"content":{"title":"t","timeslots":[{"date":"2026-01-01T10:00+00:00","duration":30}]}}}`)
	f.Add(`{"templateType":"ViewResource","version":"1.0","data":{"content":{"viewId":"v"}}}`)
	f.Fuzz(func(t *testing.T, content string) {
		err := validateInteractive(content)
		if err != nil && KindOf(err) != Invalid {
			t.Fatalf("a refusal that is not Invalid: %v", err)
		}
	})
}
