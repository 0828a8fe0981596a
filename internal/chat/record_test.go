package chat

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// TestChatRetentionErasesOldChats: with ChatRetention, housekeeping erases
// chats that ended longer ago, leaving tombstones, and keeps the rest.
func TestChatRetentionErasesOldChats(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, 0)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	svc.cfg.ChatRetention = 24 * time.Hour
	start := func() string {
		t.Helper()
		c, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
		if err != nil {
			t.Fatal(err)
		}
		return c.ContactID
	}
	old, recent, live := start(), start(), start()
	if err := svc.StopContact(ctx, "i", old); err != nil {
		t.Fatal(err)
	}
	clk.Add(23 * time.Hour)
	if err := svc.StopContact(ctx, "i", recent); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour) // old ended 25 h ago, recent 2 h ago
	if err := svc.housekeeping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Contact(ctx, old); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a chat past retention is kept: %v", err)
	}
	if ts, err := st.Tombstone(ctx, old); err != nil || ts.Reason != "retention" {
		t.Errorf("tombstone: %+v, %v", ts, err)
	}
	for _, id := range []string{recent, live} {
		if _, err := st.Contact(ctx, id); err != nil {
			t.Errorf("a chat within retention is gone: %v", err)
		}
	}
}
