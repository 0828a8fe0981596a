// Package attach decides what may be attached to a chat and checks what was
// uploaded: the declared type and extension against an allow-list, the bytes
// against both (a sniffed type), images by their header before anything is
// decoded, and optionally a virus scan by clamd. ChatJS checks nothing on
// the client, so every rule is here.
package attach

import (
	"fmt"
	"mime"
	"path"
	"slices"
	"strings"
)

// Limits are an instance's attachment rules, as Amazon Connect's
// AttachedFilesConfiguration holds them.
type Limits struct {
	MaxBytes   int64    // at most MaxBytesCeiling
	Extensions []string // allowed, without the dot, lower case
}

// Amazon Connect's numbers: a 20 MB default (binary megabytes, since the
// model's ceiling of 104,857,600 is 100 × 2^20), 100 MB at most, and 35
// attachments per chat.
const (
	DefaultMaxBytes  = 20 << 20
	MaxBytesCeiling  = 100 << 20
	MaxPerChat       = 35
	maxExtensionsLen = 10
)

// DefaultExtensions is Connect's current list for chat.
var DefaultExtensions = []string{"csv", "doc", "docx", "heic", "jfif", "jpeg", "jpg", "mov", "mp4", "pdf", "png",
	"ppt", "pptx", "rtf", "txt", "wav", "xls", "xlsx"}

// DefaultLimits are Connect's defaults.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, Extensions: slices.Clone(DefaultExtensions)}
}

// Extension returns a file name's extension, lower case, without the dot.
func Extension(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
}

// kind is what a known extension's bytes and declared type may be, and the
// one type its files are served as.
type kind struct {
	detected []string // sniffed types (or their ancestors) that fit
	declared []string // declared types that fit, besides the detected ones
	serve    string   // the extension's canonical type: never what was declared or sniffed
	noMarkup bool     // markup (HTML, SVG, XML) is refused: it would be a page, not text
}

const (
	docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	pptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	ole  = "application/x-ole-storage"
)

var kinds = map[string]kind{
	"csv":  {detected: []string{"text/plain"}, declared: []string{"text/csv", "application/csv", "text/comma-separated-values", "application/vnd.ms-excel"}, serve: "text/csv", noMarkup: true},
	"txt":  {detected: []string{"text/plain"}, serve: "text/plain; charset=utf-8", noMarkup: true},
	"rtf":  {detected: []string{"text/rtf"}, declared: []string{"application/rtf"}, serve: "application/rtf"},
	"pdf":  {detected: []string{"application/pdf"}, serve: "application/pdf"},
	"png":  {detected: []string{"image/png"}, serve: "image/png"},
	"jpg":  {detected: []string{"image/jpeg"}, declared: []string{"image/pjpeg"}, serve: "image/jpeg"},
	"jpeg": {detected: []string{"image/jpeg"}, declared: []string{"image/pjpeg"}, serve: "image/jpeg"},
	"jfif": {detected: []string{"image/jpeg"}, declared: []string{"image/pjpeg"}, serve: "image/jpeg"},
	"heic": {detected: []string{"image/heic", "image/heic-sequence", "image/heif", "image/heif-sequence"}, serve: "image/heic"},
	"mov":  {detected: []string{"video/quicktime"}, serve: "video/quicktime"},
	"mp4":  {detected: []string{"video/mp4", "audio/mp4"}, serve: "video/mp4"},
	"wav":  {detected: []string{"audio/wav"}, declared: []string{"audio/x-wav", "audio/wave", "audio/vnd.wave"}, serve: "audio/wav"},
	"doc":  {detected: []string{"application/msword", ole}, serve: "application/msword"},
	"xls":  {detected: []string{"application/vnd.ms-excel", ole}, serve: "application/vnd.ms-excel"},
	"ppt":  {detected: []string{"application/vnd.ms-powerpoint", ole}, serve: "application/vnd.ms-powerpoint"},
	"docx": {detected: []string{docx}, serve: docx},
	"xlsx": {detected: []string{xlsx}, serve: xlsx},
	"pptx": {detected: []string{pptx}, serve: pptx},
}

// markup is what sniffing finds in a page a browser would render: refused in
// text files, which are served as text.
var markup = []string{"text/html", "image/svg+xml", "text/xml", "application/xml"}

var markupNames = map[string]string{"text/html": "HTML", "image/svg+xml": "SVG", "text/xml": "XML", "application/xml": "XML"}

// ServeType returns the type a file with this extension is served as: the
// extension's canonical type, so that neither a declared type nor the bytes
// can make a download a page. An extension an administrator added is served
// as its registered type, or as bytes.
func ServeType(ext string) string {
	if k, ok := kinds[ext]; ok {
		return k.serve
	}
	if t := typesByExtension(ext); len(t) > 0 && !slices.ContainsFunc(markup, func(m string) bool { return m == t[0] }) {
		return t[0]
	}
	return unknownType
}

// unknownType is what browsers declare when they do not know a file's type;
// the bytes then decide.
const unknownType = "application/octet-stream"

// Rejection is a rule an attachment breaks, worded for the person who sent it.
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return r.Reason }

func reject(format string, args ...any) *Rejection {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

// CheckDeclared checks what StartAttachmentUpload declares, before any byte
// arrives.
func (l Limits) CheckDeclared(name, contentType string, size int64) error {
	if size > l.MaxBytes {
		return reject("The file is %d bytes; this chat accepts files up to %d bytes.", size, l.MaxBytes)
	}
	ext := Extension(name)
	if ext == "" || !slices.Contains(l.Extensions, ext) {
		return reject("Files of type .%s are not accepted; accepted types are %s.", ext, l.describeExtensions())
	}
	declared, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return reject("The content type %q is not a valid MIME type.", contentType)
	}
	if declared != unknownType && !declaredFits(ext, declared) {
		return reject("A .%s file cannot have content type %s.", ext, declared)
	}
	return nil
}

func (l Limits) describeExtensions() string {
	return "." + strings.Join(l.Extensions, ", .")
}

func declaredFits(ext, declared string) bool {
	k, ok := kinds[ext]
	if !ok {
		// An extension an administrator added: the type must be the one
		// registered for it.
		return slices.Contains(typesByExtension(ext), declared)
	}
	if slices.Contains(k.declared, declared) {
		return true
	}
	for _, d := range k.detected {
		if d == declared && d != ole {
			return true
		}
	}
	return false
}

func typesByExtension(ext string) []string {
	if t := mime.TypeByExtension("." + ext); t != "" {
		mt, _, _ := mime.ParseMediaType(t)
		return []string{mt}
	}
	return nil
}

// ValidExtension reports whether s can be an allowed extension, as the
// Connect model's FileExtension pattern says.
func ValidExtension(s string) bool {
	if len(s) < 1 || len(s) > maxExtensionsLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
