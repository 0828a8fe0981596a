package chat

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// countingBlobs counts the bytes read back from the blobs it opens.
type countingBlobs struct {
	blob.Store
	read atomic.Int64
}

func (c *countingBlobs) Open(ctx context.Context, key string) (blob.File, error) {
	f, err := c.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingFile{File: f, n: &c.read}, nil
}

type countingFile struct {
	blob.File
	n *atomic.Int64
}

func (f *countingFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.n.Add(int64(n))
	return n, err
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.n.Add(int64(n))
	return n, err
}

func checkService(t *testing.T, scanner attach.Scanner) (*Service, *sqlite.DB, *countingBlobs) {
	t.Helper()
	dir := t.TempDir()
	db := openStore(t, dir)
	local, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := &countingBlobs{Store: local}
	svc := New(Config{InstanceID: "i", QueueID: "q", Blobs: blobs, Scanner: scanner, VerdictWait: time.Millisecond,
		WebsocketURL: func(string) string { return "" }, FileURL: func(id, tok string) string { return id + "?token=" + tok }},
		db, secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() { svc.Close(); db.Close(); local.Close() })
	return svc, db, blobs
}

// uploadAndComplete uploads data as name in a chat of its own and
// completes it.
func uploadAndComplete(t *testing.T, svc *Service, name string, data []byte) string {
	t.Helper()
	ctx := context.Background()
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Error(err)
		return ""
	}
	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	tk, err := svc.StartUpload(ctx, sess, name, "text/plain", int64(len(data)), "c1")
	if err != nil {
		t.Error(err)
		return ""
	}
	if _, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader(data)); err != nil {
		t.Error(err)
		return ""
	}
	if err := svc.CompleteUpload(ctx, sess, tk.AttachmentID, "c2", answeredAlready()); err != nil {
		t.Error(err)
	}
	return tk.AttachmentID
}

func awaitVerdict(t *testing.T, st store.Store, id string) store.File {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f, err := st.File(context.Background(), id)
		if err == nil && (f.State == store.FileApproved || f.State == store.FileRejected) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("attachment %s still %s", id, f.State)
		}
	}
}

// TestCheckDoesNotReadTheUploadBack: without a scanner, the check after
// CompleteAttachmentUpload judges what was sniffed as the bytes arrived, and
// reads nothing back from storage; markup in a text file is still refused.
func TestCheckDoesNotReadTheUploadBack(t *testing.T) {
	svc, db, blobs := checkService(t, nil)
	big := bytes.Repeat([]byte("a line of plain text\n"), 20_000)
	tests := []struct {
		data     []byte
		approved bool
	}{
		{[]byte("hello"), true},
		{big, true},
		{[]byte("<html><script>alert(1)</script></html>"), false},
	}
	for _, tt := range tests {
		f := awaitVerdict(t, db, uploadAndComplete(t, svc, "notes.txt", tt.data))
		if approved := f.State == store.FileApproved; approved != tt.approved {
			t.Errorf("%d bytes: %s (%s), want approved %v", len(tt.data), f.State, f.Reason, tt.approved)
		}
		if approved := f.State == store.FileApproved; approved && f.ServeType != "text/plain; charset=utf-8" {
			t.Errorf("served as %q", f.ServeType)
		}
	}
	if n := blobs.read.Load(); n != 0 {
		t.Errorf("the checks read %d bytes back from storage, want 0", n)
	}
}

// concurrencyScanner records how many scans run at once.
type concurrencyScanner struct {
	mu       sync.Mutex
	now, max int
}

func (c *concurrencyScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	c.mu.Lock()
	c.now++
	c.max = max(c.max, c.now)
	c.mu.Unlock()
	io.Copy(io.Discard, r)
	time.Sleep(30 * time.Millisecond)
	c.mu.Lock()
	c.now--
	c.mu.Unlock()
	return "", nil
}

// TestChecksRunBounded: however many uploads complete at once, at most
// maxChecks checks (each streaming a file to the scanner) run together,
// and every file gets its verdict; a scanner still reads every byte.
func TestChecksRunBounded(t *testing.T) {
	scanner := &concurrencyScanner{}
	svc, db, blobs := checkService(t, scanner)
	const n = 3 * maxChecks
	data := []byte("hello, scanner")
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i] = uploadAndComplete(t, svc, "notes.txt", data) }()
	}
	wg.Wait()
	for _, id := range ids {
		if f := awaitVerdict(t, db, id); f.State != store.FileApproved {
			t.Errorf("%s: %s (%s)", id, f.State, f.Reason)
		}
	}
	if scanner.max > maxChecks || scanner.max < 2 {
		t.Errorf("%d scans ran at once, want 2 to %d", scanner.max, maxChecks)
	}
	if got := blobs.read.Load(); got != n*int64(len(data)) {
		t.Errorf("the scanner was given %d bytes, want %d", got, n*len(data))
	}
}
