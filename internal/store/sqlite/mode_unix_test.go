//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFilesAreOwnerOnly: the database, its WAL and its shared-memory file
// are 0600, in a data dir that existed already and for a database an older
// version left 0644.
func TestFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, preexisting := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "parley.db")
		if preexisting {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err := Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		newContact(t, db, "c")
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("preexisting %v: %s is %o, want 600", preexisting, filepath.Base(p), mode)
			}
		}
		db.Close()
	}
}
