package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/store"
)

// burst runs n calls of f at once and counts those that succeed, failing
// the test on any error that is not QuotaExceeded.
func burst(t *testing.T, n int, f func(i int) error) int {
	t.Helper()
	var ok atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := f(i)
			switch {
			case err == nil:
				ok.Add(1)
			case KindOf(err) != QuotaExceeded:
				t.Errorf("call %d: %v, want success or QuotaExceeded", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

// TestLimitsHoldUnderConcurrency: a burst of requests at each per-chat or
// per-agent limit gets exactly the limit, however the requests interleave.
func TestLimitsHoldUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}

	t.Run("attachments", func(t *testing.T) {
		svc, st, _ := fileService(t, t.TempDir(), clk, 0)
		defer st.Close()
		defer svc.Close()
		chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
		sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
		got := burst(t, 120, func(i int) error {
			_, err := svc.StartUpload(ctx, sess, fmt.Sprintf("f%d.txt", i), "text/plain", 5, "")
			return err
		})
		if got != attach.MaxPerChat {
			t.Errorf("%d uploads started, want exactly %d", got, attach.MaxPerChat)
		}
		if n, _ := st.CountFiles(ctx, chat.ContactID); n != attach.MaxPerChat {
			t.Errorf("%d files stored, want %d", n, attach.MaxPerChat)
		}
	})

	t.Run("participants", func(t *testing.T) {
		st := openStore(t, t.TempDir())
		defer st.Close()
		svc := newService(t, st, clk)
		chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		got := burst(t, 40, func(i int) error {
			// Agents: Connect allows one custom bot at a time.
			_, err := svc.AddParticipant(ctx, "i", chat.ContactID, RoleAgent, "", "")
			return err
		})
		if want := MaxParticipants - 1; got != want { // the customer is one
			t.Errorf("%d participants added, want exactly %d", got, want)
		}
		ps, _ := st.Participants(ctx, chat.ContactID)
		if countJoined(ps) != MaxParticipants {
			t.Errorf("%d participants joined, want %d", countJoined(ps), MaxParticipants)
		}
	})

	t.Run("agent chats", func(t *testing.T) {
		st := openStore(t, t.TempDir())
		defer st.Close()
		svc := newService(t, st, clk)
		key, err := svc.AddAgent(ctx, "Grace")
		if err != nil {
			t.Fatal(err)
		}
		agent, err := svc.AuthenticateAgent(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		contacts := make([]string, 30)
		for i := range contacts {
			c, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
			if err != nil {
				t.Fatal(err)
			}
			contacts[i] = c.ContactID
		}
		got := burst(t, len(contacts), func(i int) error {
			_, err := svc.Accept(ctx, agent, contacts[i])
			return err
		})
		if got != MaxAgentChats {
			t.Errorf("the agent accepted %d chats, want exactly %d", got, MaxAgentChats)
		}
		held, _ := st.AgentParticipants(ctx, agent.ID)
		if len(held) != MaxAgentChats {
			t.Errorf("the agent holds %d chats, want %d", len(held), MaxAgentChats)
		}
	})

	// An accept that authenticated before the agent went Away (another
	// tab, another node) is refused by the committing transaction.
	t.Run("away", func(t *testing.T) {
		st := openStore(t, t.TempDir())
		defer st.Close()
		svc := newService(t, st, clk)
		key, _ := svc.AddAgent(ctx, "Grace")
		before, err := svc.AuthenticateAgent(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetAgentStatus(ctx, before, store.AgentAway); err != nil {
			t.Fatal(err)
		}
		c, _ := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if _, err := svc.Accept(ctx, before, c.ContactID); !errors.Is(err, errAway) {
			t.Errorf("an accept by an agent who went Away meanwhile: %v, want %v", err, errAway)
		}
	})
}

// TestStartUploadRefusedUnderTheFreeSpaceFloor: a file that would leave
// less free space than the floor is refused before its upload starts.
func TestStartUploadRefusedUnderTheFreeSpaceFloor(t *testing.T) {
	ctx := context.Background()
	svc, st, _ := fileService(t, t.TempDir(), &clock{t: time.Now()}, 0)
	defer st.Close()
	defer svc.Close()
	svc.cfg.MinFreeBytes = 1 << 30
	svc.cfg.FreeSpace = func() (int64, error) { return 1<<30 + 100, nil }
	chat, _ := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	if _, err := svc.StartUpload(ctx, sess, "small.txt", "text/plain", 100, ""); err != nil {
		t.Fatalf("a file that fits: %v", err)
	}
	if _, err := svc.StartUpload(ctx, sess, "big.txt", "text/plain", 101, ""); err != ErrStorageFull {
		t.Fatalf("a file that would cross the floor: %v, want ErrStorageFull", err)
	}
}
