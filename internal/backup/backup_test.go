package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestRestoreRefusesPathsOutsideTheDataDir: a manifest is plain JSON, so a
// crafted one could name "../" paths; Restore must refuse it and write
// nothing, even when every digest matches.
func TestRestoreRefusesPathsOutsideTheDataDir(t *testing.T) {
	for _, name := range []string{"../escaped", "attachments/../../escaped", "ABS"} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			src, dataDir := filepath.Join(root, "backup"), filepath.Join(root, "data")
			escaped := filepath.Join(root, "escaped")
			p := name
			if p == "ABS" {
				p = filepath.ToSlash(escaped)
			}
			// The file the path names is where it names it, so its digest
			// matches: only the path may refuse it.
			data := []byte("not yours")
			sum := sha256.Sum256(data)
			if err := os.MkdirAll(filepath.Join(src, "attachments"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(escaped, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(Manifest{Format: Format, Files: map[string]string{p: hex.EncodeToString(sum[:])}})
			if err := os.WriteFile(filepath.Join(src, manifestName), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Restore(context.Background(), src, dataDir); err == nil {
				t.Fatalf("Restore accepted a manifest naming %q", p)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Errorf("Restore created %s before refusing: %v", dataDir, err)
			}
			if got, err := os.ReadFile(escaped); err != nil || string(got) != string(data) {
				t.Errorf("Restore changed %s: %q %v", escaped, got, err)
			}
		})
	}
}

// TestInterruptedRestoreRunsAgain: a restore cut short (a crash, ^C) leaves
// the files it had copied, the last one perhaps half written, and no
// database; running it again finishes the job with every file whole.
func TestInterruptedRestoreRunsAgain(t *testing.T) {
	root := t.TempDir()
	src, dataDir := filepath.Join(root, "backup"), filepath.Join(root, "data")
	files := map[string]string{
		identityName:     `{"instanceId":"i"}`,
		"views/v.json":   `{"Name":"v"}`,
		"attachments/f1": "attachment bytes",
		dbName:           "SQLite format 3\x00 and the rest",
	}
	m := Manifest{Format: Format, Files: map[string]string{}}
	for p, data := range files {
		path := filepath.Join(src, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(data))
		m.Files[p] = hex.EncodeToString(sum[:])
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(src, manifestName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// What the first run left: the files before the database in its order,
	// the last of them cut short.
	if err := os.MkdirAll(filepath.Join(dataDir, "attachments"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "attachments", "f1"), []byte("attachment bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, identityName), []byte(`{"inst`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(context.Background(), src, dataDir); err != nil {
		t.Fatalf("restoring again after an interrupted restore: %v", err)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dataDir, filepath.FromSlash(p)))
		if err != nil || string(got) != want {
			t.Errorf("%s after the second restore: %q, %v; want %q", p, got, err, want)
		}
	}
}
