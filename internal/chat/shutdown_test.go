package chat

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// slowScanner finds nothing, after release closes; it ignores its context,
// as a scanner stuck in a read would. started closes when a scan begins.
type slowScanner struct {
	release chan struct{}
	started chan struct{}
	once    *sync.Once
}

func newSlowScanner() slowScanner {
	return slowScanner{release: make(chan struct{}), started: make(chan struct{}), once: &sync.Once{}}
}

func (s slowScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	s.once.Do(func() { close(s.started) })
	io.Copy(io.Discard, r)
	<-s.release
	return "", nil
}

// closedStore is a store that counts the writes it gets after Close.
type closedStore struct {
	store.Store
	closed atomic.Bool
	late   atomic.Int32
}

func (c *closedStore) Apply(ctx context.Context, ch *store.Change) ([]store.Item, error) {
	if c.closed.Load() {
		c.late.Add(1)
	}
	return c.Store.Apply(ctx, ch)
}

func (c *closedStore) File(ctx context.Context, id string) (store.File, error) {
	if c.closed.Load() {
		c.late.Add(1)
	}
	return c.Store.File(ctx, id)
}

// scannedService is a service with an attachment folder and scanner, on a
// new store that wrap wraps; it returns the store unwrapped too.
func scannedService(t *testing.T, scanner slowScanner, wrap func(store.Store) store.Store) (*Service, store.Store) {
	t.Helper()
	dir := t.TempDir()
	db := openStore(t, dir)
	blobs, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(); blobs.Close() })
	svc := New(Config{InstanceID: "i", QueueID: "q", Blobs: blobs, Scanner: scanner, VerdictWait: time.Millisecond,
		WebsocketURL: func(string) string { return "" }, FileURL: func(id, tok string) string { return id + "?token=" + tok }},
		wrap(db), secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, db
}

// checkInFlight starts a chat, uploads a file and completes it, so that
// its check is running in the scanner when it returns.
func checkInFlight(t *testing.T, scanner slowScanner) (*Service, *closedStore, string) {
	t.Helper()
	var st *closedStore
	svc, _ := scannedService(t, scanner, func(db store.Store) store.Store { st = &closedStore{Store: db}; return st })
	sess, id := uploaded(t, svc)
	if err := svc.CompleteUpload(context.Background(), sess, id, "c2", answeredAlready()); err != nil {
		t.Fatal(err)
	}
	// The check runs after Complete's answer; wait until it is in the scanner.
	select {
	case <-scanner.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the check never reached the scanner")
	}
	return svc, st, id
}

// TestShutdownWaitsForChecks: Shutdown waits for a check in flight, whose
// verdict is recorded before the store closes, and nothing touches the
// store after.
func TestShutdownWaitsForChecks(t *testing.T) {
	scanner := newSlowScanner()
	svc, st, id := checkInFlight(t, scanner)
	time.AfterFunc(300*time.Millisecond, func() { close(scanner.release) })
	start := time.Now()
	if err := svc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("Shutdown returned after %v, before the check ended", waited)
	}
	f, err := st.File(context.Background(), id)
	if err != nil || f.State != store.FileApproved {
		t.Errorf("after Shutdown the file is %s (%v), want the verdict recorded", f.State, err)
	}
	st.closed.Store(true)
	time.Sleep(100 * time.Millisecond)
	if n := st.late.Load(); n > 0 {
		t.Errorf("%d store calls after Shutdown returned", n)
	}
}

// TestShutdownDeadlineLeavesCheckForNextStart: a check that outlives
// Shutdown's context records nothing when it ends, after the store closed;
// the file stays IN_PROGRESS for the next start.
func TestShutdownDeadlineLeavesCheckForNextStart(t *testing.T) {
	scanner := newSlowScanner()
	svc, st, id := checkInFlight(t, scanner)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := svc.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a check still running past its deadline reported no error")
	}
	st.closed.Store(true)
	close(scanner.release)
	svc.running.Wait()
	if n := st.late.Load(); n > 0 {
		t.Errorf("%d store calls after Shutdown returned", n)
	}
	st.closed.Store(false)
	if f, _ := st.File(context.Background(), id); f.State != store.FileInProgress {
		t.Errorf("the file is %s, want IN_PROGRESS, to be claimed again after its lease", f.State)
	}
}

// inProgressFails is a store whose first write of an IN_PROGRESS
// attachment item fails, as a store in passing trouble.
type inProgressFails struct {
	store.Store
	failed atomic.Bool
}

func (s *inProgressFails) Apply(ctx context.Context, ch *store.Change) ([]store.Item, error) {
	for _, it := range ch.Items {
		if len(it.Attachments) > 0 && it.Attachments[0].Status == StatusInProgress && !s.failed.Swap(true) {
			return nil, errors.New("disk I/O error")
		}
	}
	return s.Store.Apply(ctx, ch)
}

// TestVerdictAfterAFailedInProgressItemIsInTheTranscript: when the
// IN_PROGRESS item could not be written, the verdict that follows is not
// an update of that missing item: it is the attachment's transcript item,
// so the file is not lost from the transcript.
func TestVerdictAfterAFailedInProgressItemIsInTheTranscript(t *testing.T) {
	var st *inProgressFails
	scanner := newSlowScanner()
	svc, db := scannedService(t, scanner, func(db store.Store) store.Store { st = &inProgressFails{Store: db}; return st })
	ctx := context.Background()
	sess, id := uploaded(t, svc)
	if err := svc.CompleteUpload(ctx, sess, id, "c2", answeredAlready()); err != nil {
		t.Fatal(err)
	}
	<-scanner.started
	for !st.failed.Load() {
		time.Sleep(time.Millisecond)
	}
	close(scanner.release)
	if err := svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := db.File(ctx, id)
	if err != nil || f.State != store.FileApproved || f.ItemID == "" {
		t.Fatalf("the file is %s with item %q (%v), want APPROVED with its item", f.State, f.ItemID, err)
	}
	items, err := db.Transcript(ctx, sess.Contact.ID, 0, true, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range items {
		if it.Type == TypeAttachment && len(it.Attachments) > 0 && it.Attachments[0].ID == id {
			found = true
			if it.Attachments[0].Status != StatusApproved || it.ID != f.ItemID {
				t.Errorf("the transcript's item %s says %s; the file's item is %s", it.ID, it.Attachments[0].Status, f.ItemID)
			}
		}
	}
	if !found {
		t.Error("the attachment is missing from the transcript")
	}
}
