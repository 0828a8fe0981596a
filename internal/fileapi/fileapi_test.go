package fileapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// fullDisk is a blob store whose writes fail as on a full disk, with the
// error naming the server's path.
type fullDisk struct{ blob.Store }

func (d fullDisk) Create(ctx context.Context, key string) (blob.Writer, error) {
	w, err := d.Store.Create(ctx, key)
	return failingWriter{w}, err
}

type failingWriter struct{ blob.Writer }

func (failingWriter) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: "/srv/secret/parley-data/attachments/tmp/x", Err: syscall.ENOSPC}
}

// setup runs the file API over a service with the given blobs and free
// space, and returns a started upload's URL for a file of size bytes.
func setup(t *testing.T, wrap func(blob.Store) blob.Store, free func() (int64, error), size int) (url string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	local, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := chat.New(chat.Config{InstanceID: "i", QueueID: "q", Blobs: wrap(local), FreeSpace: free, MinFreeBytes: 1 << 30,
		WebsocketURL: func(string) string { return "" },
		FileURL:      func(id, tok string) string { return ts.URL + Path + id + "?token=" + tok }}, st, secret.Key{3}, log)
	t.Cleanup(svc.Close)
	New(svc, log, Config{}).Register(mux)
	c, err := svc.StartChat(ctx, chat.StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Connect(ctx, c.ParticipantToken, false, true, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Authenticate(ctx, conn.ConnectionToken)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := svc.StartUpload(ctx, sess, "notes.txt", "text/plain", int64(size), "")
	if err != nil {
		t.Fatal(err)
	}
	return tk.URL
}

func putFile(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDiskFaultIsAServerError: a write that fails on the server's disk is
// a 500 with generic text, not a 400 that shows the server's paths.
func TestDiskFaultIsAServerError(t *testing.T) {
	url := setup(t, func(b blob.Store) blob.Store { return fullDisk{b} }, nil, 5)
	status, body := putFile(t, url, []byte("hello"))
	if status != http.StatusInternalServerError {
		t.Errorf("PUT on a full disk: %d %s, want 500", status, body)
	}
	if strings.Contains(body, "/srv/secret") || strings.Contains(body, "no space") {
		t.Errorf("PUT on a full disk shows the server's detail: %s", body)
	}
}

// TestUploadStopsAtTheFreeSpaceFloor: an upload that runs the disk under
// the floor while it is written is refused with 507 and a clear message.
func TestUploadStopsAtTheFreeSpaceFloor(t *testing.T) {
	const size = 9 << 20
	var free atomic.Int64
	free.Store(100 << 30)
	url := setup(t, func(b blob.Store) blob.Store { return b }, func() (int64, error) { return free.Load(), nil }, size)
	free.Store(2 << 30) // enough to start the PUT; then other writers fill the disk
	var once atomic.Bool
	body := io.MultiReader(bytes.NewReader(make([]byte, 5<<20)), readerFunc(func(p []byte) (int, error) {
		if once.CompareAndSwap(false, true) {
			free.Store(512 << 20)
		}
		return 0, io.EOF
	}), bytes.NewReader(make([]byte, size-5<<20)))
	req, _ := http.NewRequest("PUT", url, body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(string(b), "storage space") {
		t.Errorf("PUT under the floor: %d %s, want 507 saying the server is short of storage space", resp.StatusCode, b)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
