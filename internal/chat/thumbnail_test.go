package chat

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store/sqlite"
	"github.com/parleychat/parley/internal/testfiles"
)

// stallingBlobs holds the reads of one blob until release closes: a
// thumbnail being made of it stays in flight as long as the test wants.
type stallingBlobs struct {
	blob.Store
	mu      sync.Mutex
	stall   string // the key whose source reads stall
	opens   int
	stalled chan struct{}
	release chan struct{}
}

func (b *stallingBlobs) Open(ctx context.Context, key string) (blob.File, error) {
	b.mu.Lock()
	stall := key == b.stall
	if stall {
		b.opens++
		stall = b.opens == 2 // the first is OpenDownload's check; the second the thumbnail's source
	}
	b.mu.Unlock()
	if stall {
		close(b.stalled)
		<-b.release
	}
	return b.Store.Open(ctx, key)
}

// TestSmallThumbnailNotBlockedByLarge: while one image's preview is being
// made, another image's preview is made at once (one global lock made it
// wait); and the same image's preview, asked for twice, is made once.
func TestSmallThumbnailNotBlockedByLarge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	local, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := &stallingBlobs{Store: local, stalled: make(chan struct{}), release: make(chan struct{})}
	svc := New(Config{InstanceID: "i", QueueID: "q", Blobs: blobs,
		WebsocketURL: func(string) string { return "" }, FileURL: func(id, tok string) string { return id + "?token=" + tok }},
		st, secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer func() { svc.Close(); st.Close(); local.Close() }()
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	image := func(name string, data []byte) (id, token string) {
		tk, err := svc.StartUpload(ctx, sess, name, "image/png", int64(len(data)), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "image/png", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := svc.CompleteUpload(ctx, sess, tk.AttachmentID, "c-"+name, answeredAlready()); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			url, _, _, err := svc.GetAttachment(ctx, sess, tk.AttachmentID, time.Minute)
			if err == nil {
				return tk.AttachmentID, tokenOf(url)
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
	}
	bigID, bigTok := image("big.png", testfiles.PNG(1200, 800))
	smallID, smallTok := image("small.png", testfiles.PNG(40, 30))
	blobs.mu.Lock()
	blobs.stall = bigID
	blobs.mu.Unlock()

	bigDone := make(chan error, 2)
	go func() {
		d, err := svc.OpenThumbnail(ctx, bigID, bigTok)
		if err == nil {
			d.Blob.Close()
		}
		bigDone <- err
	}()
	<-blobs.stalled
	go func() { // the same file again: waits for the first, makes nothing
		d, err := svc.OpenThumbnail(ctx, bigID, bigTok)
		if err == nil {
			d.Blob.Close()
		}
		bigDone <- err
	}()

	smallDone := make(chan error, 1)
	go func() {
		d, err := svc.OpenThumbnail(ctx, smallID, smallTok)
		if err == nil {
			d.Blob.Close()
		}
		smallDone <- err
	}()
	select {
	case err := <-smallDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(blobs.release)
		t.Fatal("a small image's preview waited for a large one's")
	}
	close(blobs.release)
	for range 2 {
		if err := <-bigDone; err != nil {
			t.Fatal(err)
		}
	}
	blobs.mu.Lock()
	opens := blobs.opens
	blobs.mu.Unlock()
	if opens != 3 { // two OpenDownload checks and one source read: made once
		t.Errorf("the large image's bytes were opened %d times, want 3", opens)
	}
	svc.mu.Lock()
	left := len(svc.thumbLocks)
	svc.mu.Unlock()
	if left != 0 {
		t.Errorf("%d thumbnail locks left", left)
	}
}
