package chat

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// TestPruneKeepsRetriesWithinTheirWindow: expired connection tokens,
// idempotency records past IdempotencyWindow and ephemeral items past
// EphemeralWindow are pruned; within the windows a retry still returns the
// first result, and transcript items are never pruned.
func TestPruneKeepsRetriesWithinTheirWindow(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, 0)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", ClientToken: "start"})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	typing, err := svc.SendEvent(ctx, sess, EventTyping, "", "typing-1")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := svc.SendMessage(ctx, sess, ContentPlain, "hello", "message-1")
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := svc.StartUpload(ctx, sess, "notes.txt", "text/plain", 5, "upload-1")
	if err != nil {
		t.Fatal(err)
	}

	retries := func() {
		t.Helper()
		if again, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada", ClientToken: "start"}); err != nil || again.ContactID != chat.ContactID {
			t.Errorf("StartChat retry: %v, %v; want contact %s", again.ContactID, err, chat.ContactID)
		}
		if again, err := svc.SendEvent(ctx, sess, EventTyping, "", "typing-1"); err != nil || again.ID != typing.ID {
			t.Errorf("SendEvent retry: %v, %v; want item %s", again.ID, err, typing.ID)
		}
		if again, err := svc.StartUpload(ctx, sess, "notes.txt", "text/plain", 5, "upload-1"); err != nil || again.AttachmentID != ticket.AttachmentID {
			t.Errorf("StartUpload retry: %v, %v; want %s", again.AttachmentID, err, ticket.AttachmentID)
		}
	}
	clk.Add(EphemeralWindow - time.Minute)
	if err := svc.prune(ctx); err != nil {
		t.Fatal(err)
	}
	retries()

	// Past every window (the store's times are the wall clock's; the
	// service's clock moves on).
	clk.Add(IdempotencyWindow + 48*time.Hour)
	m := obs.NewMetrics()
	svc.cfg.Metrics = m
	if err := svc.prune(ctx); err != nil {
		t.Fatal(err)
	}
	// What was pruned is in the metrics, by kind.
	for _, kind := range []string{"tokens", "idempotency", "ephemeral_items"} {
		if got := m.Value("parley_pruned_total", "kind", kind); got < 1 {
			t.Errorf("parley_pruned_total{kind=%q} = %v, want at least 1", kind, got)
		}
	}
	if _, err := st.ConnectionToken(ctx, secret.Hash(conn.ConnectionToken)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired connection token: %v, want pruned", err)
	}
	if _, err := st.Idempotency(ctx, "start-chat:i", "start"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old idempotency record: %v, want pruned", err)
	}
	if _, err := st.ItemByClientToken(ctx, sess.Participant.ID, "typing-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old typing event: %v, want pruned", err)
	}
	if it, err := st.ItemByClientToken(ctx, sess.Participant.ID, "message-1"); err != nil || it.ID != msg.ID {
		t.Errorf("a message was pruned: %v", err)
	}
}

// TestUploadsNeverCompletedAreDeleted: a file whose upload was started and
// not completed within its URL's life (and as long again) is deleted, row
// and bytes; a completed one stays.
func TestUploadsNeverCompletedAreDeleted(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, 0)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	sess, uploadedOnly := uploaded(t, svc) // PUT, never completed
	pending, err := svc.StartUpload(ctx, sess, "never.txt", "text/plain", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := svc.StartUpload(ctx, sess, "done.txt", "text/plain", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReceiveUpload(ctx, done.AttachmentID, tokenOf(done.URL), "text/plain", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	if err := svc.CompleteUpload(ctx, sess, done.AttachmentID, "", answeredAlready()); err != nil {
		t.Fatal(err)
	}

	clk.Add(abandonAfter - time.Minute)
	if err := svc.housekeeping(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := st.File(ctx, uploadedOnly); f.State != store.FileUploaded {
		t.Fatalf("deleted within the upload's time: %s", f.State)
	}
	clk.Add(2 * time.Minute)
	if err := svc.housekeeping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{uploadedOnly, pending.AttachmentID} {
		if f, _ := st.File(ctx, id); f.State != store.FileDeleted {
			t.Errorf("upload never completed: %s, want DELETED", f.State)
		}
		if b, err := blobs.Open(ctx, id); err == nil {
			b.Close()
			t.Errorf("the bytes of an upload never completed are still there")
		}
	}
	// Its check runs on its own goroutine, which a loaded machine may not
	// have finished yet.
	if f := awaitVerdict(t, st, done.AttachmentID); f.State != store.FileApproved {
		t.Errorf("a completed upload: %s, want APPROVED", f.State)
	}
}

// TestRetentionDeletesFilesInEveryState: rejected and pending files of an
// ended chat follow the retention as approved ones do.
func TestRetentionDeletesFilesInEveryState(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, time.Hour)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	sess, uploadedOnly := uploaded(t, svc)
	pending, err := svc.StartUpload(ctx, sess, "never.txt", "text/plain", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := svc.StartUpload(ctx, sess, "bad.pdf", "application/pdf", 5, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReceiveUpload(ctx, bad.AttachmentID, tokenOf(bad.URL), "application/pdf", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	if err := svc.CompleteUpload(ctx, sess, bad.AttachmentID, "", answeredAlready()); err != nil {
		t.Fatal(err)
	}
	// The verdict follows CompleteUpload's answer.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f, _ := st.File(ctx, bad.AttachmentID)
		if f.State == store.FileRejected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("text named .pdf: %s, want REJECTED", f.State)
		}
	}
	if err := svc.StopContact(ctx, "i", sess.Contact.ID); err != nil {
		t.Fatal(err)
	}
	clk.Add(61 * time.Minute)
	if err := svc.expireFiles(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{uploadedOnly, pending.AttachmentID, bad.AttachmentID} {
		if f, _ := st.File(ctx, id); f.State != store.FileDeleted {
			t.Errorf("%s file after the retention: %s, want DELETED", id, f.State)
		}
	}
	if b, err := blobs.Open(ctx, uploadedOnly); err == nil {
		b.Close()
		t.Error("the bytes are still there")
	}
}

// answeredAlready is the answered channel of a caller that wrote its answer.
func answeredAlready() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// staleExpired is a store whose ExpiredFiles answers once with a list read
// before another process deleted those files.
type staleExpired struct {
	*sqlite.DB
	files []store.File
}

func (s *staleExpired) ExpiredFiles(context.Context, time.Time, int) ([]store.File, error) {
	f := s.files
	s.files = nil
	return f, nil
}

// TestRetentionCountsWhatItDeleted: with several processes on a database
// each runs retention; one that finds a file deleted by another since it
// listed it does not count it in parley_pruned_total, or the sum over the
// nodes would say more files were deleted than there were.
func TestRetentionCountsWhatItDeleted(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, time.Hour)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	sess, _ := uploaded(t, svc)
	if err := svc.StopContact(ctx, "i", sess.Contact.ID); err != nil {
		t.Fatal(err)
	}
	clk.Add(61 * time.Minute)
	listed, err := st.ExpiredFiles(ctx, clk.Now().Add(-time.Hour), 100)
	if err != nil || len(listed) != 1 {
		t.Fatalf("expired files: %v, %v", listed, err)
	}
	first := obs.NewMetrics()
	svc.cfg.Metrics = first
	if err := svc.expireFiles(ctx); err != nil {
		t.Fatal(err)
	}
	other := New(svc.cfg, &staleExpired{DB: st, files: listed}, secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	second := obs.NewMetrics()
	other.cfg.Metrics = second
	if err := other.expireFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := first.Value("parley_pruned_total", "kind", "files"), second.Value("parley_pruned_total", "kind", "files"); a != 1 || b > 0 {
		t.Errorf("files pruned: %v by the process that deleted it, %v by the one that found it deleted; want 1 and 0", a, b)
	}
}
