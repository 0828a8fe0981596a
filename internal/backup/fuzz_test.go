package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRestoreManifest: a backup folder is the user's to hand over, and its
// manifest only JSON. Whatever paths it names (each file present where the
// path points, with its true digest, so that only the path can refuse it),
// Restore writes nothing unless every path is local, and then writes each
// file at its path under the data dir.
func FuzzRestoreManifest(f *testing.F) {
	for _, s := range [][2]string{{"identity.json", "views/a.json"}, {"../escaped", "attachments/x"}, {"attachments/../../escaped", "a"},
		{"/abs", "b"}, {"attachments/ab/cd", "attachments/ab"}, {"a//b", "./c"}, {"", "views/"}, {"parley.db", "x\\..\\y"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a+b, 0) || len(a) > 200 || len(b) > 200 {
			return
		}
		root := t.TempDir()
		src, dataDir := filepath.Join(root, "backup", "x"), filepath.Join(root, "data")
		if err := os.MkdirAll(src, 0o700); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for i, p := range []string{dbName, a, b} {
			at := filepath.Join(src, filepath.FromSlash(p))
			if rel, err := filepath.Rel(root, at); err != nil || !filepath.IsLocal(rel) || filepath.IsAbs(p) {
				at = "" // the fuzz target writes only inside its own folder
			}
			data := []byte{byte('0' + i)}
			if at != "" && os.MkdirAll(filepath.Dir(at), 0o700) == nil {
				os.WriteFile(at, data, 0o600)
			}
			sum := sha256.Sum256(data)
			files[p] = hex.EncodeToString(sum[:])
		}
		m, _ := json.Marshal(Manifest{Format: Format, Files: files})
		if err := os.WriteFile(filepath.Join(src, manifestName), m, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Restore(context.Background(), src, dataDir)
		local := true
		for p := range files {
			local = local && filepath.IsLocal(filepath.FromSlash(p))
		}
		if !local {
			if err == nil {
				t.Fatalf("restored a manifest naming %q and %q", a, b)
			}
			if _, serr := os.Stat(dataDir); !os.IsNotExist(serr) {
				t.Fatalf("%q, %q: refused (%v) after creating the data dir", a, b, err)
			}
			return
		}
		if err != nil {
			return // a file the paths make unreadable, or a folder where a file is named
		}
		for p, want := range files {
			got, err := fileSHA256(filepath.Join(dataDir, filepath.FromSlash(p)))
			if err != nil || got != want {
				t.Fatalf("%q restored as %s, %v; want %s", p, got, err, want)
			}
		}
	})
}
