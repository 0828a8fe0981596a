package chatcli

import (
	"mime"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/attach"
)

// FuzzSaveName: whatever name a server's Content-Disposition gives a
// download (as the SDK decodes it), `parley download` saves it as one
// file in the current folder, under the server's name when that is a
// file's name and under the attachment's id otherwise.
func FuzzSaveName(f *testing.F) {
	for _, s := range []string{"report.pdf", "..", ".", "/", "", "../../etc/passwd", `a\b`, "a\x00b", "é📎.png", ".bashrc", "dir/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, name string, viaHeader bool) {
		if viaHeader {
			// As the SDK reads it: the server's header, decoded.
			_, params, err := mime.ParseMediaType(attach.ContentDisposition(name))
			if err != nil {
				t.Fatal(err)
			}
			name = params["filename"]
		}
		got := saveName(name, "att-1")
		if got == "" || !filepath.IsLocal(got) || filepath.Base(got) != got || strings.ContainsRune(got, 0) {
			t.Fatalf("name %q is saved as %q", name, got)
		}
		if got != "att-1" && got != filepath.Base(name) {
			t.Fatalf("name %q is saved as %q", name, got)
		}
	})
}
