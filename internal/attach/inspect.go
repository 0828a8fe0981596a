package attach

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // header decoders for DecodeConfig
	_ "image/png"
	"io"
	"slices"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// MaxImagePixels bounds an image's width × height, read from its header
// before anything is decoded, so that a decompression bomb (a small file
// that decodes to gigabytes) is refused with bounded memory. 50 MP is above
// any phone camera and below what would hurt a thumbnailer.
const MaxImagePixels = 50_000_000

const damagedImage = "The image is damaged: "

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
	v, err := CheckContent(f, size, name)
	if err != nil || !v.Approved {
		return v, err
	}
	return Scan(ctx, f, size, v, scanner)
}

// CheckContent runs the checks that read only the start of a file: its
// sniffed type against the extension, markup in text, and an image's
// header.
func CheckContent(f io.ReaderAt, size int64, name string) (Verdict, error) {
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
	if isA(detected, "image/png") || isA(detected, "image/jpeg") { // an animated PNG too
		r := &readErrors{r: sequential(f, size)}
		cfg, _, err := image.DecodeConfig(r)
		if r.err != nil {
			// The storage failed, not the image: it could not be checked.
			return Verdict{}, fmt.Errorf("reading the image header: %w", r.err)
		}
		if err != nil {
			return Verdict{Reason: damagedImage + err.Error()}, nil
		}
		if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
			return Verdict{Reason: fmt.Sprintf("The image is %d×%d pixels; at most %d pixels are accepted.", cfg.Width, cfg.Height, MaxImagePixels)}, nil
		}
	}
	return Verdict{Approved: true, Type: ServeType(ext)}, nil
}

// Scan runs scanner, when there is one, over a file whose content checks
// gave v, and returns the verdict.
func Scan(ctx context.Context, f io.ReaderAt, size int64, v Verdict, scanner Scanner) (Verdict, error) {
	if scanner == nil || !v.Approved {
		return v, nil
	}
	found, err := scanner.Scan(ctx, sequential(f, size))
	if err != nil {
		return Verdict{}, fmt.Errorf("virus scan: %w", err)
	}
	if found != "" {
		return Verdict{Reason: "The file contains malware (" + found + ")."}, nil
	}
	return v, nil
}

// readAhead is how much is read from a file at once when it is read from
// start to end: a file kept in S3 is read by ranged GETs, one a read, and
// decoders and scanners read a few kilobytes at a time.
const readAhead = 256 << 10

// sequential reads the first size bytes of f from the start, readAhead at a
// time. Only Read shows: io.Copy would go round the buffer of a
// bufio.Reader (its WriteTo hands the section to the writer's ReadFrom).
func sequential(f io.ReaderAt, size int64) io.Reader {
	return struct{ io.Reader }{bufio.NewReaderSize(io.NewSectionReader(f, 0, size), readAhead)}
}

// readErrors keeps the first error of its reader other than io.EOF: a
// decoder reports it as a damaged file (or as no known format), when it is
// the storage's failure.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Head keeps the first bytes written to it, as many as CheckContent reads
// for sniffing, so that an upload's content can be checked as it arrives
// instead of read back from storage.
type Head struct{ b []byte }

// NewHead returns a Head for a file of size bytes.
func NewHead(size int64) *Head { return &Head{b: make([]byte, 0, min(max(size, 0), sniffBytes))} }

func (h *Head) Write(p []byte) (int, error) {
	if room := cap(h.b) - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Check runs CheckContent over the kept bytes of a file of size bytes. ok
// is false when they do not suffice: an image whose header lies past them,
// or fewer bytes than the file's start; the file itself must then be read.
func (h *Head) Check(size int64, name string) (v Verdict, ok bool) {
	if int64(len(h.b)) != min(size, sniffBytes) {
		return Verdict{}, false
	}
	v, err := CheckContent(bytes.NewReader(h.b), int64(len(h.b)), name)
	if err != nil {
		return Verdict{}, false
	}
	if !v.Approved && int64(len(h.b)) < size && strings.HasPrefix(v.Reason, damagedImage) {
		return Verdict{}, false // the header may go on past the kept bytes
	}
	return v, true
}

// isA reports whether sniffed bytes are of type t or of a kind of it (an
// animated PNG is a PNG, XHTML is XML): sniffers name the most specific type.
func isA(detected *mimetype.MIME, t string) bool {
	for m := detected; m != nil; m = m.Parent() {
		if m.Is(t) {
			return true
		}
	}
	return false
}

// markupIn names the markup sniffed bytes are, "" when none: a kind of XML
// (XHTML, RSS…) is XML.
func markupIn(detected *mimetype.MIME) string {
	for _, m := range markup {
		if isA(detected, m) {
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
		if m != detected && m.Is(ole) {
			// A Compound File fits an old Office extension as such (a
			// format the sniffer cannot tell), not when it was sniffed as
			// something else: an installer, a mail, another Office format.
			return false
		}
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
