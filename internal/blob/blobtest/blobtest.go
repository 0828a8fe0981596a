// Package blobtest is the conformance suite every blob.Store passes.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
)

// Run runs the suite against the stores open makes, a fresh one per test.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"InvisibleUntilCommit", invisibleUntilCommit},
		{"RoundTrip", func(t *testing.T, s blob.Store) { roundTrip(t, s, 11) }},
		{"Empty", func(t *testing.T, s blob.Store) { roundTrip(t, s, 0) }},
		{"SeveralParts", func(t *testing.T, s blob.Store) { roundTrip(t, s, 2*blob.PartSize+12345) }},
		{"ExactlyOnePart", func(t *testing.T, s blob.Store) { roundTrip(t, s, blob.PartSize) }},
		{"AbortLeavesNothing", abortLeavesNothing},
		{"DeleteMissing", deleteMissing},
		{"InvalidKeys", invalidKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func invisibleUntilCommit(t *testing.T, s blob.Store) {
	ctx := context.Background()
	key := secret.NewUUID()
	w, err := s.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a blob is visible before Commit: %v", err)
	}
	w.Write([]byte("world"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	f, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != "hello world" {
		t.Errorf("read %q", b)
	}
}

// roundTrip writes n random bytes in uneven pieces and reads them back
// sequentially, after seeks, and at offsets.
func roundTrip(t *testing.T, s blob.Store, n int) {
	ctx := context.Background()
	data := make([]byte, n)
	rand.Read(data)
	key := secret.NewUUID()
	w, err := s.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 1<<20+7)
		if _, err := w.Write(rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Size() != int64(n) {
		t.Fatalf("Size %d, want %d", f.Size(), n)
	}
	if f.ModTime().IsZero() {
		t.Error("ModTime is zero")
	}
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sequential read: %d bytes, err %v; want %d bytes equal", len(got), err, n)
	}
	if n == 0 {
		return
	}
	// A seek back, as net/http's ServeContent does for a Range request.
	mid := int64(n / 3)
	if off, err := f.Seek(mid, io.SeekStart); err != nil || off != mid {
		t.Fatalf("Seek: %d, %v", off, err)
	}
	got, err = io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data[mid:]) {
		t.Fatalf("read after seek: %d bytes, err %v", len(got), err)
	}
	if end, err := f.Seek(0, io.SeekEnd); err != nil || end != int64(n) {
		t.Fatalf("Seek end: %d, %v", end, err)
	}
	buf := make([]byte, 10)
	if k, err := f.ReadAt(buf, mid); k != min(10, n-int(mid)) || (err != nil && err != io.EOF) || !bytes.Equal(buf[:k], data[mid:int(mid)+k]) {
		t.Fatalf("ReadAt: %d, %v", k, err)
	}
	// Past the end: a short read and io.EOF.
	k, err := f.ReadAt(buf, int64(n-3))
	if k != min(3, n) || err != io.EOF {
		t.Fatalf("ReadAt at the end: %d, %v; want %d, EOF", k, err, min(3, n))
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a deleted blob opens: %v", err)
	}
}

func abortLeavesNothing(t *testing.T, s blob.Store) {
	ctx := context.Background()
	key := secret.NewUUID()
	w, err := s.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, blob.PartSize+1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("an aborted blob opens: %v", err)
	}
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("an aborted blob opens after Commit: %v", err)
	}
}

func deleteMissing(t *testing.T, s blob.Store) {
	if err := s.Delete(context.Background(), secret.NewUUID()); err != nil {
		t.Errorf("deleting a missing blob: %v", err)
	}
}

func invalidKeys(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, key := range []string{"", "../../etc/passwd", "a/b/c/d/e/f/g", "short", "-leading-dash-x"} {
		if w, err := s.Create(ctx, key); err == nil {
			w.Abort()
			t.Errorf("Create(%q) accepted", key)
		}
		if _, err := s.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q): %v", key, err)
		}
	}
}
