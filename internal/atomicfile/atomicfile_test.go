package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: the file has the new bytes and mode, replaces an old one,
// and leaves no temporary file; a failed write leaves the old file as it
// was and no temporary file.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "identity.json")
	if err := Write(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "two" {
		t.Fatalf("%q %v", b, err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	// A temporary name taken by a directory makes the write fail.
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("three"), 0o600); err == nil {
		t.Error("a write whose temporary file cannot be made succeeded")
	}
	os.Remove(path + ".tmp")
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("after a failed write: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left: %v", entries)
	}
}
