package attach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"io"
	"mime"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testfiles"
)

func inspect(t *testing.T, name, declared string, data []byte, s Scanner) Verdict {
	t.Helper()
	v, err := Inspect(context.Background(), bytes.NewReader(data), int64(len(data)), name, declared, s)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil { // the same verdict from the bytes kept as they streamed in
		if hv, ok := headCheck(data, name); ok && hv != v {
			t.Errorf("%s: checked as it arrived %+v, read back %+v", name, hv, v)
		}
	}
	return v
}

// headCheck feeds data to a Head in uneven writes, as an upload arrives.
func headCheck(data []byte, name string) (Verdict, bool) {
	h := NewHead(int64(len(data)))
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 7000)
		h.Write(rest[:n])
		rest = rest[n:]
	}
	return h.Check(int64(len(data)), name)
}

// withSegments puts n application segments of size bytes each before a
// JPEG's frame header, as a camera's EXIF and preview do.
func withSegments(jpg []byte, n, size int) []byte {
	out := append([]byte{}, jpg[:2]...)
	for range n {
		seg := []byte{0xFF, 0xE1, byte((size + 2) >> 8), byte(size + 2)}
		out = append(append(out, seg...), bytes.Repeat([]byte{'e'}, size)...)
	}
	return append(out, jpg[2:]...)
}

// TestHeadCheck: the content checks run on the bytes kept as an upload
// arrives give Inspect's verdict, and defer to reading the file when the
// kept bytes cannot decide (an image header past them).
func TestHeadCheck(t *testing.T) {
	bigText := bytes.Repeat([]byte("plain text line\n"), 10_000)
	lateHTML := append(bytes.Clone(bigText), "<html><script>alert(1)</script></html>"...)
	farHeader := withSegments(testfiles.JPEG(8, 8), 2, 40_000)
	tests := []struct {
		name     string
		data     []byte
		decides  bool
		approved bool
	}{
		{"a.txt", []byte("hello"), true, true},
		{"a.txt", bigText, true, true},
		{"a.txt", lateHTML, true, true}, // sniffing reads the first 64 KB, read back or not
		{"a.txt", []byte("<html><script>alert(1)</script></html>"), true, false},
		{"a.png", testfiles.PNG(8, 8), true, true},
		{"a.jpg", testfiles.JPEG(8, 8), true, true},
		{"a.jpg", farHeader, false, true},
		{"bomb.png", testfiles.PNGBomb(100000, 100000), true, false},
		{"broken.png", corruptHeader(testfiles.PNG(8, 8)), true, false},
		{"broken.jpg", farHeader[:70_000], false, false}, // ends before its frame header
		{"a.pdf", testfiles.ELF(), true, false},
	}
	for _, tt := range tests {
		full := inspect(t, tt.name, "application/octet-stream", tt.data, nil)
		if full.Approved != tt.approved {
			t.Errorf("%s (%d bytes): Inspect %+v, want approved %v", tt.name, len(tt.data), full, tt.approved)
		}
		v, ok := headCheck(tt.data, tt.name)
		if ok != tt.decides {
			t.Errorf("%s (%d bytes): decided from the head %v, want %v", tt.name, len(tt.data), ok, tt.decides)
		}
		if ok && v != full {
			t.Errorf("%s: from the head %+v, read back %+v", tt.name, v, full)
		}
	}
	// Fewer bytes than the file's start were kept (an interrupted upload):
	// nothing is decided.
	h := NewHead(int64(len(bigText)))
	h.Write(bigText[:100])
	if _, ok := h.Check(int64(len(bigText)), "a.txt"); ok {
		t.Error("decided from 100 bytes of a file's first 64 KB")
	}
}

func TestEveryDefaultKindIsAccepted(t *testing.T) {
	l := DefaultLimits()
	for _, f := range testfiles.All() {
		if err := l.CheckDeclared(f.Name, f.Type, int64(len(f.Data))); err != nil {
			t.Errorf("%s declared as %s: %v", f.Name, f.Type, err)
		}
		if v := inspect(t, f.Name, f.Type, f.Data, nil); !v.Approved {
			t.Errorf("%s: rejected: %s", f.Name, v.Reason)
		}
	}
}

func TestCheckDeclared(t *testing.T) {
	l := DefaultLimits()
	tests := []struct {
		name, typ string
		size      int64
		ok        bool
	}{
		{"a.pdf", "application/pdf", 1, true},
		{"A.PDF", "application/pdf", 1, true},
		{"a.csv", "application/vnd.ms-excel", 1, true}, // what Windows browsers declare
		{"a.png", "application/octet-stream", 1, true}, // unknown to the browser: the bytes decide
		{"a.png", "image/png; charset=binary", 1, true},
		{"a.pdf", "application/pdf", DefaultMaxBytes, true},
		{"a.pdf", "application/pdf", DefaultMaxBytes + 1, false},
		{"a.exe", "application/vnd.microsoft.portable-executable", 1, false},
		{"a.svg", "image/svg+xml", 1, false},
		{"a.html", "text/html", 1, false},
		{"noextension", "text/plain", 1, false},
		{"a.pdf", "text/html", 1, false},
		{"a.png", "image/jpeg", 1, false},
		{"a.pdf", "not a type", 1, false},
	}
	for _, tt := range tests {
		err := l.CheckDeclared(tt.name, tt.typ, tt.size)
		if (err == nil) != tt.ok {
			t.Errorf("CheckDeclared(%q, %q, %d) = %v, want ok=%v", tt.name, tt.typ, tt.size, err, tt.ok)
		}
		var r *Rejection
		if err != nil && (!errors.As(err, &r) || r.Reason == "") {
			t.Errorf("%v is not a Rejection with a reason", err)
		}
	}
}

func TestInspectRejectsSpoofsAndBombs(t *testing.T) {
	tests := []struct {
		name, declared string
		data           []byte
		reason         string
	}{
		{"report.pdf", "application/pdf", testfiles.ELF(), "not what a .pdf file holds"},
		{"photo.png", "image/png", testfiles.JPEG(8, 8), "image/jpeg"},
		{"notes.txt", "text/plain", testfiles.PNG(4, 4), "image/png"},
		{"sheet.xlsx", xlsx, testfiles.OOXML("word"), "wordprocessingml"},
		{"sheet.xlsx", xlsx, testfiles.Zip(map[string][]byte{"a.txt": []byte("x")}, "a.txt"), "application/zip"},
		{"bomb.png", "image/png", testfiles.PNGBomb(100000, 100000), "pixels"},
		{"bomb.png", "image/png", testfiles.APNGBomb(100000, 100000), "pixels"}, // sniffed as image/apng
		{"broken.png", "image/png", corruptHeader(testfiles.PNG(8, 8)), "damaged"},
		// Compound Files sniffed as something other than the extension's
		// Office format: an installer, or a spreadsheet named as a document.
		{"report.doc", "application/msword", testfiles.MSI(), "application/x-ms-installer"},
		{"report.doc", "application/msword", testfiles.XLSOLE(), "application/vnd.ms-excel"},
	}
	for _, tt := range tests {
		v := inspect(t, tt.name, tt.declared, tt.data, nil)
		if v.Approved || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s: %+v, want rejected mentioning %q", tt.name, v, tt.reason)
		}
	}
}

// TestInspectServesTheExtensionsType: whatever was declared or sniffed, a
// file is served as its extension's canonical type, so that no upload
// becomes a page.
func TestInspectServesTheExtensionsType(t *testing.T) {
	tests := []struct {
		name, declared string
		data           []byte
		want           string
	}{
		{"a.png", "application/octet-stream", testfiles.PNG(2, 2), "image/png"},
		{"a.jpg", "image/pjpeg", testfiles.JPEG(2, 2), "image/jpeg"},
		{"a.csv", "text/csv", []byte("a,b\n1,2\n"), "text/csv"},
		{"a.csv", "application/vnd.ms-excel", []byte("a,b\n1,2\n"), "text/csv"},
		{"a.txt", "application/octet-stream", []byte("hello <b>world</b>\n"), "text/plain; charset=utf-8"},
		{"a.txt", "text/plain", []byte("hello\n<script>alert(1)</script>"), "text/plain; charset=utf-8"},
		{"a.pdf", "application/octet-stream", testfiles.PDF("x"), "application/pdf"},
	}
	for _, tt := range tests {
		v := inspect(t, tt.name, tt.declared, tt.data, nil)
		if !v.Approved || v.Type != tt.want {
			t.Errorf("%s declared %s: %+v, want approved and served as %s", tt.name, tt.declared, v, tt.want)
		}
	}
	if v := inspect(t, "old.xls", "application/vnd.ms-excel", testfiles.XLSOLE(), nil); !v.Approved {
		t.Errorf("an Excel 97 Compound File named .xls: %+v", v)
	}
	for _, ext := range DefaultExtensions {
		if typ := ServeType(ext); typ == "" || typ == unknownType {
			t.Errorf("ServeType(%q) = %q", ext, typ)
		}
	}
	if typ := ServeType("html"); typ != unknownType {
		t.Errorf("an added .html extension is served as %q, want bytes", typ)
	}
}

// TestInspectRejectsMarkupInText: HTML, SVG and XML in a .txt or .csv file
// would be a page or an image, not text.
func TestInspectRejectsMarkupInText(t *testing.T) {
	const svg = `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	tests := []struct {
		name, declared, data, reason string
	}{
		{"page.txt", "text/plain", "<html><body><script>alert(1)</script></body></html>", "HTML"},
		{"page.txt", "application/octet-stream", "<!DOCTYPE html><p>hi</p>", "HTML"},
		{"page.txt", "text/plain", "\ufeff  <script>alert(1)</script>", "HTML"},
		{"data.csv", "text/csv", "<html><script>alert(1)</script></html>", "HTML"},
		{"pic.txt", "text/plain", svg, "SVG"},
		{"pic.txt", "text/plain", `<?xml version="1.0"?>` + svg, "SVG"},
		{"data.csv", "text/csv", `<?xml version="1.0"?><rows/>`, "XML"},
		// Kinds of XML, which sniffing names by their own types.
		{"page.txt", "text/plain", `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><script>alert(1)</script></body></html>`, "XML"},
		{"feed.csv", "text/csv", `<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>`, "XML"},
	}
	for _, tt := range tests {
		v := inspect(t, tt.name, tt.declared, []byte(tt.data), nil)
		if v.Approved || !strings.Contains(v.Reason, tt.reason+" markup") || !strings.Contains(v.Reason, Extension(tt.name)) {
			t.Errorf("%s holding %q: %+v, want rejected for %s markup", tt.name, tt.data, v, tt.reason)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct{ name, want string }{
		{"report.pdf", `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`},
		{`say "hi".txt`, `attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`},
		{"../../etc/passwd", `attachment; filename="_.._etc_passwd"; filename*=UTF-8''_.._etc_passwd`},
		{"a\r\nSet-Cookie: x.txt", `attachment; filename="a__Set-Cookie: x.txt"; filename*=UTF-8''a__Set-Cookie%3A%20x.txt`},
		{"résumé 📎.pdf", `attachment; filename="r_sum_ _.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%93%8E.pdf`},
		{"...", `attachment; filename="attachment"; filename*=UTF-8''attachment`},
		// Bidirectional controls are dropped: this name must not show as
		// "invoicetxt.pdf".
		{"invoice\u202efdp.txt", `attachment; filename="invoicefdp.txt"; filename*=UTF-8''invoicefdp.txt`},
		{"\u2066a\u2069\u200e\u200f\u202a\u202b\u202c\u202d\u2067\u2068.pdf", `attachment; filename="a.pdf"; filename*=UTF-8''a.pdf`},
	}
	for _, tt := range tests {
		if got := ContentDisposition(tt.name); got != tt.want {
			t.Errorf("ContentDisposition(%q)\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"invoice\u202efdp.txt", "invoicefdp.txt"},
		{"\u202bشهادة\u202c.pdf", "شهادة.pdf"},
		{"a\u2066b\u2067c\u2068d\u2069e\u200ef\u200fg\u061ch.txt", "abcdefgh.txt"},
		{"résumé 📎.pdf", "résumé 📎.pdf"},
		{"\u202e", ""},
	}
	for _, tt := range tests {
		if got := CleanName(tt.in); got != tt.want {
			t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzContentDisposition: whatever the name, the header parses, says
// attachment, carries no control characters, and its filename* decodes to a
// name without path separators.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"report.pdf", `a"b\c`, "../x", "é📎", "\x00\x7f", "%41", "", "a\u202efdp.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		h := ContentDisposition(name)
		for _, r := range h {
			if r < 0x20 || r == 0x7f || r > 0x7e {
				t.Fatalf("header %q has a character %U", h, r)
			}
		}
		disp, params, err := mime.ParseMediaType(h)
		if err != nil || disp != "attachment" {
			t.Fatalf("header %q does not parse: %v", h, err)
		}
		got := params["filename"] // mime decodes filename* into filename
		if got == "" || strings.ContainsAny(got, "/\\") || strings.HasPrefix(got, ".") {
			t.Fatalf("name %q gives filename %q", name, got)
		}
		if strings.ContainsFunc(got, isBidiControl) {
			t.Fatalf("name %q gives filename %q, with a bidirectional control", name, got)
		}
	})
}

// startClamd runs clamd on 127.0.0.1 with a database holding only the EICAR
// signature.
func startClamd(t *testing.T) *Clamd {
	return &Clamd{Addr: testfiles.Clamd(t)}
}

func TestClamdFindsEICAR(t *testing.T) {
	c := startClamd(t)
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	found, err := c.Scan(ctx, bytes.NewReader(testfiles.EICAR()))
	if err != nil || !strings.Contains(found, "Eicar") {
		t.Errorf("EICAR: found %q, %v", found, err)
	}
	zipped := testfiles.Zip(map[string][]byte{"readme.txt": []byte("hello"), "eicar.com": testfiles.EICAR()}, "readme.txt", "eicar.com")
	if found, err := c.Scan(ctx, bytes.NewReader(zipped)); err != nil || found == "" {
		t.Errorf("EICAR in a zip: found %q, %v", found, err)
	}
	big := bytes.Repeat([]byte("clean bytes "), 300000) // several chunks
	if found, err := c.Scan(ctx, bytes.NewReader(big)); err != nil || found != "" {
		t.Errorf("clean file: found %q, %v", found, err)
	}
	v := inspect(t, "notes.txt", "text/plain", testfiles.EICAR(), c)
	if v.Approved || !strings.Contains(v.Reason, "malware") {
		t.Errorf("Inspect with clamd: %+v", v)
	}
	down := &Clamd{Addr: "127.0.0.1:1", Timeout: time.Second}
	if _, err := down.Scan(ctx, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrScannerUnavailable) {
		t.Errorf("unreachable clamd: %v", err)
	}
}

// corruptHeader flips a bit of a PNG's IHDR, so that its checksum fails.
func corruptHeader(b []byte) []byte {
	b[19] ^= 1
	return b
}

func TestThumbnail(t *testing.T) {
	png := testfiles.PNG(1000, 500)
	b, typ, err := Thumbnail(context.Background(), bytes.NewReader(png), int64(len(png)), "image/png")
	if err != nil || typ != "image/png" {
		t.Fatal(typ, err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != ThumbSize || cfg.Height != ThumbSize/2 {
		t.Errorf("thumbnail %dx%d, %v", cfg.Width, cfg.Height, err)
	}
	// A JPEG whose EXIF says "rotate 90°" (orientation 6) comes out upright:
	// width and height swap.
	jpg := withOrientation(testfiles.JPEG(400, 200), 6)
	b, typ, err = Thumbnail(context.Background(), bytes.NewReader(jpg), int64(len(jpg)), "image/jpeg")
	if err != nil || typ != "image/jpeg" {
		t.Fatal(typ, err)
	}
	cfg, _, _ = image.DecodeConfig(bytes.NewReader(b))
	if cfg.Width != 160 || cfg.Height != 320 {
		t.Errorf("rotated thumbnail %dx%d, want 160x320", cfg.Width, cfg.Height)
	}
	bomb := testfiles.PNGBomb(20000, 20000)
	if _, _, err := Thumbnail(context.Background(), bytes.NewReader(bomb), int64(len(bomb)), "image/png"); !errors.Is(err, ErrNoThumbnail) {
		t.Errorf("a 400-megapixel header: %v, want no thumbnail (and nothing decoded)", err)
	}
	if _, _, err := Thumbnail(context.Background(), bytes.NewReader([]byte("%PDF")), 4, "application/pdf"); !errors.Is(err, ErrNoThumbnail) {
		t.Errorf("a PDF: %v", err)
	}
}

// withOrientation inserts an Exif APP1 segment with an Orientation tag
// after a JPEG's SOI marker.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(o >> 8), byte(o), 0, 0, 0, 0, 0, 0}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func TestCopyHashed(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // several chunks, not a whole number of them
	var dst bytes.Buffer
	n, sum, err := CopyHashed(&dst, bytes.NewReader(data), int64(len(data))+1)
	want := sha256.Sum256(data)
	if err != nil || n != int64(len(data)) || sum != hex.EncodeToString(want[:]) || !bytes.Equal(dst.Bytes(), data) {
		t.Fatalf("n %d, sum %s, err %v", n, sum, err)
	}
	n, _, _ = CopyHashed(io.Discard, bytes.NewReader(data), 1000)
	if n != 1000 {
		t.Errorf("limit: copied %d", n)
	}
}

// BenchmarkUploadPipeline is the upload path's copy: into a file, hashing.
func BenchmarkUploadPipeline(b *testing.B) {
	data := bytes.Repeat([]byte("x"), 20<<20)
	f, err := os.CreateTemp(b.TempDir(), "upload")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f.Seek(0, 0)
		if _, _, err := CopyHashed(f, bytes.NewReader(data), int64(len(data))+1); err != nil {
			b.Fatal(err)
		}
	}
}

// failingAfterFirst serves its first read and fails every later one, as a
// disk (or a bucket) that fails mid-check.
type failingAfterFirst struct {
	data  []byte
	reads int
}

func (f *failingAfterFirst) ReadAt(p []byte, off int64) (int, error) {
	if f.reads++; f.reads > 1 {
		return 0, &os.PathError{Op: "read", Path: "/var/lib/parley/attachments/blobs/ab/secret", Err: errors.New("input/output error")}
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// TestImageReadFailureIsNotADamagedImage: a read that fails while the
// image's header is read is the server's fault, an error (the file could
// not be checked, the detail for the log), not a verdict whose reason,
// shown to every participant, names the server's paths.
func TestImageReadFailureIsNotADamagedImage(t *testing.T) {
	data := testfiles.PNG(8, 8)
	v, err := CheckContent(&failingAfterFirst{data: data}, int64(len(data)), "a.png")
	if err == nil {
		t.Errorf("a failed read judged %+v, want an error", v)
	}
	if strings.Contains(v.Reason, "/var/lib") {
		t.Errorf("the reason shown to participants leaks a path: %q", v.Reason)
	}
}
