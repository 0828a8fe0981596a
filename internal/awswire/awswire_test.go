package awswire

import (
	"errors"
	"testing"
)

// TestUnmarshalEmpty checks which bodies count as the empty body, {}: none
// but JSON's own whitespace (RFC 8259 §2), as the SDKs send it for an input
// without body members; anything else is not JSON and is refused.
func TestUnmarshalEmpty(t *testing.T) {
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{"", true},
		{" \t\r\n", true},
		{"{}", true},
		{"\v", false},
		{"\f", false},
		{"\u00a0", false}, // no-break space
		{"\u0085", false}, // next line
		{"\u2028", false},
	} {
		var v struct{ A *string }
		err := Unmarshal([]byte(tt.body), &v)
		var e *Error
		if tt.ok && err != nil {
			t.Errorf("Unmarshal(%q) = %v, want nil", tt.body, err)
		}
		if !tt.ok && (!errors.As(err, &e) || e.Type != "ValidationException") {
			t.Errorf("Unmarshal(%q) = %v, want a ValidationException", tt.body, err)
		}
	}
}
