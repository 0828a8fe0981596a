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
