package attach

import (
	"bytes"
	"context"
	"errors"
	"image"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/testfiles"
)

// FuzzExifOrientation: whatever an uploaded JPEG's segments hold, the
// orientation read for its thumbnail is one of EXIF's eight, and the one
// an Exif segment right after the start of the image names.
func FuzzExifOrientation(f *testing.F) {
	jpg := testfiles.JPEG(8, 4)
	for o := range uint16(9) {
		f.Add(withOrientation(jpg, o), uint8(o))
	}
	le := withOrientation(jpg, 6)
	le[12], le[13] = 'I', 'I' // little-endian TIFF header, big-endian fields: nonsense to read safely
	f.Add(le, uint8(3))
	f.Add(withSegments(jpg, 3, 100), uint8(8))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02}, uint8(1))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x16Exif\x00\x00II*\x00\xff\xff\xff\x7f"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, o uint8) {
		if got := exifOrientation(bytes.NewReader(data)); got < 1 || got > 8 {
			t.Fatalf("orientation %d", got)
		}
		if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 || o < 1 || o > 8 {
			return
		}
		if got := exifOrientation(bytes.NewReader(withOrientation(data, uint16(o)))); got != int(o) {
			t.Fatalf("orientation %d, the first segment says %d", got, o)
		}
	})
}

// fuzzNames are the names the content fuzz targets give files: each
// default kind, and an extension an administrator may add.
var fuzzNames = []string{"a.png", "a.jpg", "a.jpeg", "a.jfif", "a.pdf", "a.docx", "a.xlsx", "a.pptx", "a.doc", "a.xls", "a.ppt",
	"a.wav", "a.csv", "a.txt", "a.rtf", "a.mp4", "a.mov", "a.heic", "a.zip", "a.html", "a.svg", "a.json", "noext"}

// FuzzHeadCheck: the verdict on the bytes kept as an upload arrives is
// the verdict on the whole file read back (or defers to it), and every
// verdict is well formed: approved with the extension's serving type, or
// refused with a reason.
func FuzzHeadCheck(f *testing.F) {
	for _, file := range testfiles.All() {
		if len(file.Data) < 8<<10 {
			f.Add(file.Data, uint8(slices.Index(fuzzNames, "a"+file.Name[strings.LastIndex(file.Name, "."):])), uint32(0), byte(0))
		}
	}
	f.Add(testfiles.JPEG(8, 8), uint8(1), uint32(70<<10), byte(0))
	f.Add(withSegments(testfiles.JPEG(8, 8), 2, 40000), uint8(1), uint32(0), byte(0))
	f.Add([]byte("<html><body>hi</body></html>"), uint8(13), uint32(0), byte(' '))
	f.Add([]byte("plain text line\n"), uint8(13), uint32(80<<10), byte('a'))
	f.Add(testfiles.PNGBomb(20000, 20000), uint8(0), uint32(0), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, nameAt uint8, pad uint32, padByte byte) {
		name := fuzzNames[int(nameAt)%len(fuzzNames)]
		// Padding carries a file past the bytes a Head keeps.
		file := append(slices.Clip(data), bytes.Repeat([]byte{padByte}, int(pad%(160<<10)))...)
		want, err := CheckContent(bytes.NewReader(file), int64(len(file)), name)
		if err != nil {
			t.Fatal(err)
		}
		if want.Approved != (want.Reason == "") || want.Approved != (want.Type != "") ||
			(want.Approved && want.Type != ServeType(Extension(name))) {
			t.Fatalf("%s: verdict %+v", name, want)
		}
		if got, ok := headCheck(file, name); ok && got != want {
			t.Fatalf("%s of %d bytes: checked as it arrived %+v, read back %+v", name, len(file), got, want)
		}
	})
}

// FuzzCheckDeclared: what StartAttachmentUpload declares is accepted only
// when its extension is allowed, its type parses and its size fits, is
// refused with a Rejection otherwise, and a browser's usual declarations
// for an allowed file (the extension's own type, or none known) pass.
func FuzzCheckDeclared(f *testing.F) {
	for _, s := range [][2]string{{"a.pdf", "application/pdf"}, {"a.PNG", "image/png"}, {"a.txt", "text/plain; charset=utf-8"},
		{"a.csv", "application/vnd.ms-excel"}, {"a.doc", "application/x-ole-storage"}, {"a.exe", "application/pdf"}, {".pdf", "application/pdf"},
		{"a.pdf", "application/pdf; x"}, {"a.pdf", ""}, {"a.json", "application/json"}, {"a.pdf.", "application/pdf"}} {
		f.Add(s[0], s[1], int64(100), "json")
	}
	f.Add("a.pdf", "application/pdf", int64(DefaultMaxBytes+1), "")
	f.Fuzz(func(t *testing.T, name, contentType string, size int64, extra string) {
		l := DefaultLimits()
		if ValidExtension(extra) {
			l.Extensions = append(l.Extensions, strings.ToLower(extra))
		}
		err := l.CheckDeclared(name, contentType, size)
		ext := Extension(name)
		if err != nil {
			var r *Rejection
			if !errors.As(err, &r) || r.Reason == "" {
				t.Fatalf("%q %q %d: %#v", name, contentType, size, err)
			}
		} else if size > l.MaxBytes || !slices.Contains(l.Extensions, ext) {
			t.Fatalf("%q %q %d accepted with limits %+v", name, contentType, size, l)
		}
		if size > l.MaxBytes || !slices.Contains(l.Extensions, ext) {
			return
		}
		for _, typ := range []string{ServeType(ext), unknownType} {
			if err := l.CheckDeclared(name, typ, size); err != nil {
				t.Fatalf("%q declared as %q: %v", name, typ, err)
			}
		}
	})
}

// FuzzThumbnail: an uploaded PNG or JPEG gives no thumbnail or one of its
// own format that fits ThumbSize; no header makes it decode more than
// MaxThumbSourcePixels.
func FuzzThumbnail(f *testing.F) {
	f.Add(testfiles.PNG(8, 4), true)
	f.Add(testfiles.JPEG(8, 4), false)
	f.Add(withOrientation(testfiles.JPEG(4, 8), 6), false)
	f.Add(withOrientation(testfiles.JPEG(4, 8), 8), true)
	f.Add(testfiles.PNGBomb(20000, 20000), true)
	f.Add([]byte("%PDF"), false)
	f.Fuzz(func(t *testing.T, data []byte, asPNG bool) {
		typ := "image/jpeg"
		if asPNG {
			typ = "image/png"
		}
		cfg, format, cfgErr := image.DecodeConfig(bytes.NewReader(data))
		b, gotType, err := Thumbnail(context.Background(), bytes.NewReader(data), int64(len(data)), typ)
		if err != nil {
			return
		}
		if cfgErr != nil || int64(cfg.Width)*int64(cfg.Height) > MaxThumbSourcePixels {
			t.Fatalf("a thumbnail of an image whose header is %+v, %v", cfg, cfgErr)
		}
		if gotType != "image/"+format {
			t.Fatalf("a %s image gave a %s thumbnail", format, gotType)
		}
		out, outFormat, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || "image/"+outFormat != gotType {
			t.Fatalf("thumbnail does not decode as %s: %s, %v", gotType, outFormat, err)
		}
		if out.Width < 1 || out.Height < 1 || out.Width > ThumbSize || out.Height > ThumbSize {
			t.Fatalf("a %dx%d image gave a %dx%d thumbnail", cfg.Width, cfg.Height, out.Width, out.Height)
		}
	})
}
