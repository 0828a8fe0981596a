package attach

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // header decoders for DecodeConfig
	_ "image/png"
	"io"
	"slices"

	"github.com/gabriel-vasile/mimetype"
)

// MaxImagePixels bounds an image's width × height, read from its header
// before anything is decoded, so that a decompression bomb (a small file
// that decodes to gigabytes) is refused with bounded memory. 50 MP is above
// any phone camera and below what would hurt a thumbnailer.
const MaxImagePixels = 50_000_000

// sniffBytes is how much of a file the type sniffer reads: enough for the
// Office formats, whose zip entries identify them, and bounded so that
// memory does not grow with file size.
const sniffBytes = 64 << 10

func init() { mimetype.SetLimit(sniffBytes) }

// Verdict is the outcome of checking an upload.
type Verdict struct {
	Approved bool
	Reason   string // why it was rejected
	Type     string // the content type to serve it with
}

// Scanner scans bytes for malware.
type Scanner interface {
	// Scan returns the name of what it found, "" when the bytes are clean.
	Scan(ctx context.Context, r io.Reader) (found string, err error)
}

// Inspect checks an uploaded file against its name and declared type, and
// with scanner when there is one. f is read from the start each time, so it
// is never held in memory whole.
func Inspect(ctx context.Context, f io.ReaderAt, size int64, name, declared string, scanner Scanner) (Verdict, error) {
	ext := Extension(name)
	head := io.NewSectionReader(f, 0, min(size, sniffBytes))
	detected, err := mimetype.DetectReader(head)
	if err != nil {
		return Verdict{}, err
	}
	if !detectedFits(ext, detected) {
		return Verdict{Reason: fmt.Sprintf("The file's content is %s, not what a .%s file holds.", detected.String(), ext)}, nil
	}
	if m := markupIn(detected); m != "" && kinds[ext].noMarkup {
		return Verdict{Reason: fmt.Sprintf("The file's content is %s markup; a .%s file must be plain text.", m, ext)}, nil
	}
	if detected.Is("image/png") || detected.Is("image/jpeg") {
		cfg, _, err := image.DecodeConfig(io.NewSectionReader(f, 0, size))
		if err != nil {
			return Verdict{Reason: "The image is damaged: " + err.Error()}, nil
		}
		if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
			return Verdict{Reason: fmt.Sprintf("The image is %d×%d pixels; at most %d pixels are accepted.", cfg.Width, cfg.Height, MaxImagePixels)}, nil
		}
	}
	if scanner != nil {
		found, err := scanner.Scan(ctx, io.NewSectionReader(f, 0, size))
		if err != nil {
			return Verdict{}, fmt.Errorf("virus scan: %w", err)
		}
		if found != "" {
			return Verdict{Reason: "The file contains malware (" + found + ")."}, nil
		}
	}
	return Verdict{Approved: true, Type: ServeType(ext)}, nil
}

// markupIn names the markup sniffed bytes are, "" when none.
func markupIn(detected *mimetype.MIME) string {
	for _, m := range markup {
		if detected.Is(m) {
			return markupNames[m]
		}
	}
	return ""
}

// detectedFits reports whether sniffed bytes are what the extension holds:
// the detected type or one of its ancestors (e.g. text/csv → text/plain).
func detectedFits(ext string, detected *mimetype.MIME) bool {
	k, known := kinds[ext]
	for m := detected; m != nil; m = m.Parent() {
		if known && slices.ContainsFunc(k.detected, m.Is) {
			return true
		}
		if !known && m.Extension() == "."+ext {
			return true
		}
	}
	return false
}

// ErrScannerUnavailable wraps a scanner that could not be reached.
var ErrScannerUnavailable = errors.New("attach: virus scanner unavailable")
