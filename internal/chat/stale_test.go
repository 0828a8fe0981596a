package chat

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/cache"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// SendMessage on a session from a shared cache, which another node's
// writes have made stale, answers exactly as on a fresh one: the fast path
// commits only what the transaction confirms, and the rest is decided
// again from the database.
func TestSendMessageOnStaleSession(t *testing.T) {
	ctx := context.Background()
	pub := &published{}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "parley.db"), pub.hook)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: time.Now()}
	here := newTimedService(t, cache.Shared(st), clk)
	other := newTimedService(t, st, clk) // another node: its writes pass this node's cache by

	start := func() (contactID, participantID, token string) {
		t.Helper()
		c, err := here.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := here.AddParticipant(ctx, "i", c.ContactID, RoleAgent, "Grace", ""); err != nil {
			t.Fatal(err)
		}
		conn, err := here.Connect(ctx, c.ParticipantToken, false, true, true)
		if err != nil {
			t.Fatal(err)
		}
		return c.ContactID, c.ParticipantID, conn.ConnectionToken
	}
	send := func(token, clientToken string) (store.Item, *Session, error) {
		t.Helper()
		sess, err := here.AuthenticateCached(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		it, err := here.SendMessage(ctx, sess, ContentPlain, "hello", clientToken)
		return it, sess, err
	}

	t.Run("left", func(t *testing.T) {
		// An agent leaves while another stays: the chat goes on.
		contactID, _, _ := start()
		a, err := here.AddParticipant(ctx, "i", contactID, RoleAgent, "Linus", "")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := here.Connect(ctx, a.ParticipantToken, false, true, true)
		if err != nil {
			t.Fatal(err)
		}
		token := conn.ConnectionToken
		first, _, err := send(token, "ct-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, sess, err := send(token, ""); err != nil || !sess.stale {
			t.Fatalf("second message: %v, from the cache %v", err, sess.stale)
		}
		fresh, err := other.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Disconnect(ctx, fresh, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := send(token, "ct-2"); !errors.Is(err, errLeft) {
			t.Errorf("after leaving on another node: %v, want %v", err, errLeft)
		}
		// A retry of a message that took effect still gets its first answer.
		if it, _, err := send(token, "ct-1"); err != nil || it.ID != first.ID {
			t.Errorf("retry after leaving: %s, %v; want %s", it.ID, err, first.ID)
		}
	})

	t.Run("ended", func(t *testing.T) {
		contactID, _, token := start()
		if _, _, err := send(token, ""); err != nil {
			t.Fatal(err)
		}
		if err := other.StopContact(ctx, "i", contactID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := send(token, ""); !errors.Is(err, errParticipantEnded) {
			t.Errorf("after the chat ended on another node: %v, want %v", err, errParticipantEnded)
		}
	})

	t.Run("idle", func(t *testing.T) {
		_, participantID, token := start()
		if _, _, err := send(token, ""); err != nil {
			t.Fatal(err)
		}
		// Another node's sweep found the participant idle.
		if _, err := st.Apply(ctx, &store.Change{Clocks: []store.Clock{{ParticipantID: participantID, Idle: true}}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := send(token, ""); err != nil {
			t.Fatal(err)
		}
		got := pub.contentTypes(participantID)
		want := []string{EventParticipantReturned, ContentPlain}
		if len(got) < 2 || !slices.Equal(got[len(got)-2:], want) {
			t.Errorf("customer's items %v, want them to end %v", got, want)
		}
	})
}
