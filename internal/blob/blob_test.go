package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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
