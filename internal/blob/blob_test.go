package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/secret"
)

func TestLocalCommitIsAtomic(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	key := secret.NewUUID()

	w, err := l.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello "))
	if _, err := l.Open(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a blob is visible before Commit: %v", err)
	}
	w.Write([]byte("world"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := l.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	// Downloads hand the *os.File to net/http, which sends it with
	// sendfile(2); a wrapper would be copied through user space.
	if of, ok := f.(interface{ OSFile() *os.File }); !ok || of.OSFile() == nil {
		t.Error("a local blob does not expose its *os.File")
	}
	f.Close()
	if string(b) != "hello world" || f.Size() != 11 {
		t.Errorf("read %q (size %d)", b, f.Size())
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if err := l.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted blob opens: %v", err)
	}
}

func TestLocalAbortAndBadKeys(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
	defer l.Close()
	ctx := context.Background()
	w, _ := l.Create(ctx, secret.NewUUID())
	w.Write([]byte("partial"))
	w.Abort()
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("Abort left %v", tmp)
	}
	for _, key := range []string{"../../etc/passwd", "a/b", "", "..", "/abs", "short"} {
		if _, err := l.Create(ctx, key); err == nil {
			t.Errorf("Create took key %q", key)
		}
		if _, err := l.Open(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v", key, err)
		}
	}
}

func TestLocalSweepsTempAfterCrash(t *testing.T) {
	dir := t.TempDir()
	l, _ := OpenLocal(dir)
	w, _ := l.Create(context.Background(), secret.NewUUID())
	w.Write([]byte("interrupted upload"))
	l.Close() // no Commit or Abort: as if the process died
	l, _ = OpenLocal(dir)
	defer l.Close()
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Errorf("temporary files survive a restart: %v", tmp)
	}
}

// TestLocalCommitSyncsNewDirectories: a blob survives a crash only if every
// directory entry leading to it does. The first blob in one of the 256
// folders creates that folder, whose entry is in "blobs": that is synced
// as well as the folder that holds the renamed file; the folders OpenLocal
// creates are synced in the data dir.
func TestLocalCommitSyncsNewDirectories(t *testing.T) {
	var synced []string
	syncDirHook = func(dir string) { synced = append(synced, dir) }
	defer func() { syncDirHook = nil }()
	l, err := OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !slices.Contains(synced, ".") {
		t.Errorf("OpenLocal synced %q, not the folder that holds tmp and blobs", synced)
	}
	key := "ab" + secret.NewUUID()
	for i := range 2 {
		synced = nil
		w, err := l.Create(context.Background(), key[:2]+secret.NewUUID())
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		want := []string{"blobs/ab"}
		if i == 0 {
			want = []string{"blobs", "blobs/ab"}
		}
		for _, d := range want {
			if !slices.Contains(synced, d) {
				t.Errorf("commit %d synced %q, not %q", i, synced, d)
			}
		}
		if i == 1 && slices.Contains(synced, "blobs") {
			t.Errorf("commit into an existing folder synced %q", synced)
		}
	}
}
