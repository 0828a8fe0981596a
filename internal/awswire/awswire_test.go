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

// TestUnmarshalTypeMessage checks that a member of the wrong JSON type is
// named to the caller in JSON's terms: Parley's Go types (its packages,
// anonymous structs) are no business of an API caller's.
func TestUnmarshalTypeMessage(t *testing.T) {
	type inner struct{ B *string }
	var v struct {
		S *string
		N *int64
		I *int32
		L []string
		M map[string]inner
		O *struct{ A *string }
		T *bool
	}
	for _, tt := range []struct{ body, want string }{
		{`{"S":1}`, "Invalid value for S: expected a string."},
		{`{"N":"5"}`, "Invalid value for N: expected an integer."},
		{`{"N":1.5}`, "Invalid value for N: expected an integer."},
		{`{"I":3000000000}`, "Invalid value for I: expected an integer from -2147483648 to 2147483647."},
		{`{"L":"x"}`, "Invalid value for L: expected an array."},
		{`{"M":[]}`, "Invalid value for M: expected an object."},
		{`{"M":{"k":1}}`, "Invalid value for M: expected an object."},
		{`{"O":"x"}`, "Invalid value for O: expected an object."},
		{`{"T":"true"}`, "Invalid value for T: expected a boolean."},
	} {
		err := Unmarshal([]byte(tt.body), &v)
		var e *Error
		if !errors.As(err, &e) || e.Type != "ValidationException" || e.Message != tt.want {
			t.Errorf("Unmarshal(%s) = %v, want ValidationException: %s", tt.body, err, tt.want)
		}
	}
}

// TestUnmarshalInvalidUTF8: JSON text is UTF-8 (RFC 8259 §8.1), and every
// SDK sends it so (escaping what it cannot encode); a body that is not is
// refused, not decoded with U+FFFD put in place of its bad bytes.
func TestUnmarshalInvalidUTF8(t *testing.T) {
	var v struct{ A *string }
	for _, body := range []string{"{\"A\":\"a\xffb\"}", "{\"A\":\"\xed\xa0\x80\"}", "{\"A\":\"x\"}\xc3"} {
		err := Unmarshal([]byte(body), &v)
		var e *Error
		if !errors.As(err, &e) || e.Type != "ValidationException" {
			t.Errorf("Unmarshal(%q) = %v (A %q), want a ValidationException", body, err, Deref(v.A))
		}
	}
	if err := Unmarshal([]byte(`{"A":"é\ud800"}`), &v); err != nil {
		t.Errorf("an escaped lone surrogate, as JSON.stringify sends it: %v", err)
	}
}
