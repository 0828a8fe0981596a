package attach

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ContentDisposition returns an RFC 6266 "attachment" header for a file
// name: an ASCII fallback in filename= for old clients, and the exact name
// in filename*=UTF-8”… (RFC 8187 percent-encoding). Control characters and
// path separators become "_", so that no client can be led to write outside
// its download folder or break the header; bidirectional controls are
// removed (see CleanName).
func ContentDisposition(name string) string {
	name = safeName(name)
	var fallback, encoded strings.Builder
	for _, r := range name {
		switch {
		case r < 0x80 && r != '"' && r != '\\' && r != '%':
			fallback.WriteRune(r)
		default:
			fallback.WriteByte('_')
		}
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if isAttrChar(b) {
			encoded.WriteByte(b)
		} else {
			fmt.Fprintf(&encoded, "%%%02X", b)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + encoded.String()
}

// CleanName removes the bidirectional controls from a file name: U+202A–202E
// (embeddings, overrides), U+2066–2069 (isolates), U+200E/U+200F and U+061C
// (marks). They have no place in a name and let one pose as another
// ("invoice\u202efdp.txt" shows as "invoicetxt.pdf").
func CleanName(name string) string {
	return strings.Map(func(r rune) rune {
		if isBidiControl(r) {
			return -1
		}
		return r
	}, name)
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// safeName replaces what a file name must not carry into a download.
func safeName(name string) string {
	name = CleanName(name)
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "_")
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || unicode.IsControl(r) || r == utf8.RuneError {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "attachment"
	}
	return name
}

// isAttrChar is RFC 8187's attr-char: what may stand unencoded in filename*.
func isAttrChar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}
