package awswire

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzInput has a member of every kind the APIs' inputs use.
type fuzzInput struct {
	S  *string
	N  *int64
	I  int32
	F  *float64
	B  *bool
	L  []string
	M  map[string]string
	O  *struct{ A *string }
	AS []struct{ Id *string }
}

// FuzzUnmarshal holds Unmarshal to encoding/json: a body it accepts is
// whitespace only (the empty input) or decodes with json.Unmarshal to the
// same value; one it refuses is refused by json.Unmarshal too or is not
// UTF-8, and the refusal is a ValidationException (400) whose message
// speaks JSON's terms, never Go's.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		``, " \t\r\n", `{}`, "\v", "\u00a0", `null`, `[]`,
		`{"S":"x","N":5,"I":-3,"F":1.5,"B":true,"L":["a"],"M":{"k":"v"},"O":{"A":"b"},"AS":[{"Id":"i"}]}`,
		`{"S":1}`, `{"N":"5"}`, `{"N":1.5}`, `{"I":3000000000}`, `{"L":"x"}`, `{"M":[]}`, `{"M":{"k":1}}`, `{"O":"x"}`, `{"B":"true"}`,
		`{"AS":[{"Id":3}]}`, `{"s":"case"}`, `{"S":"\ud800"}`, "{\"S\":\"\xff\"}", `{"S":"x"} x`, `{"S":"x",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got fuzzInput
		err := Unmarshal(body, &got)
		var want fuzzInput
		refErr := json.Unmarshal(body, &want)
		blank := len(strings.Trim(string(body), " \t\r\n")) == 0
		if err == nil {
			if blank {
				if !reflect.DeepEqual(got, fuzzInput{}) {
					t.Fatalf("%q: an empty body set %+v", body, got)
				}
				return
			}
			if refErr != nil {
				t.Fatalf("%q: accepted, json.Unmarshal: %v", body, refErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q: decoded %+v, json.Unmarshal %+v", body, got, want)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Type != "ValidationException" {
			t.Fatalf("%q: refused with %#v, not a ValidationException", body, err)
		}
		if refErr == nil && utf8.Valid(body) {
			t.Fatalf("%q: refused (%v), json.Unmarshal accepts it", body, err)
		}
		for _, goWord := range []string{"int64", "int32", "float64", "struct", "map[", "awswire", "fuzzInput"} {
			if strings.Contains(e.Message, goWord) {
				t.Fatalf("%q: message %q speaks Go (%s)", body, e.Message, goWord)
			}
		}
	})
}
