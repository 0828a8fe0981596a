package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
)

// fuzzDomain records what the admin API asks of the domain.
type fuzzDomain struct {
	Domain // the rest is never called
	erased []string
	after  time.Time
	before time.Time
}

func (d *fuzzDomain) Erase(_ context.Context, contactID, reason string) (chat.Tombstone, error) {
	d.erased = append(d.erased, reason)
	return chat.Tombstone{ContactID: contactID, Reason: reason, ErasedAt: time.Unix(1, 0)}, nil
}

func (d *fuzzDomain) EndedContacts(_ context.Context, after, before time.Time) ([]string, error) {
	d.after, d.before = after, before
	return []string{"c"}, nil
}

// FuzzEraseBody: an erase request's body erases with its Reason exactly
// when it is JSON with a Reason of at most 1024 characters, and is
// refused with a typed 400 otherwise.
func FuzzEraseBody(f *testing.F) {
	for _, s := range []string{`{"Reason":"GDPR request 42"}`, ``, `{}`, `{"Reason":1}`, `not json`, "{\"Reason\":\"\xff\"}",
		`{"Reason":"` + strings.Repeat("é", 1000) + `"}`, `{"Reason":"` + strings.Repeat("a", 1025) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := &fuzzDomain{}
		a := &API{d: d}
		r := httptest.NewRequest("POST", "/admin/v1/contacts/c1/erase", nil)
		r.SetPathValue("ContactId", "c1")
		err := a.erase(httptest.NewRecorder(), r, body)
		var in struct{ Reason string }
		ok := awswire.Unmarshal(body, &in) == nil && utf8.RuneCountInString(in.Reason) <= 1024
		if !ok {
			var e *awswire.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || len(d.erased) > 0 {
				t.Fatalf("%.200q: %v, erased %d", body, err, len(d.erased))
			}
			return
		}
		if err != nil || len(d.erased) != 1 || d.erased[0] != in.Reason {
			t.Fatalf("%.200q: %v, erased %q", body, err, d.erased)
		}
	})
}

// FuzzExportSelect: an export's query names one contact or a period,
// never both; a period reads as RFC 3339, and the domain is asked only
// for a non-empty one.
func FuzzExportSelect(f *testing.F) {
	f.Add("c1", "", "")
	f.Add("", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00+01:00")
	f.Add("", "2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z")
	f.Add("c1", "2026-11-01T00:00:00Z", "")
	f.Add("", "", "")
	f.Add("", "2026-11-01", "")
	f.Fuzz(func(t *testing.T, id, after, before string) {
		d := &fuzzDomain{}
		ids, err := Select(context.Background(), d, id, after, before)
		if err != nil {
			var e *awswire.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("(%q, %q, %q): %v", id, after, before, err)
			}
			return
		}
		if id != "" {
			if after != "" || before != "" || len(ids) != 1 || ids[0] != id {
				t.Fatalf("(%q, %q, %q) selected %q", id, after, before, ids)
			}
			return
		}
		if after == "" && before == "" || !d.after.Before(d.before) {
			t.Fatalf("(%q, %q, %q) asked for %v to %v", id, after, before, d.after, d.before)
		}
		for _, v := range []struct {
			s string
			t time.Time
		}{{after, d.after}, {before, d.before}} {
			if v.s == "" {
				continue
			}
			var want time.Time
			if json.Unmarshal([]byte(`"`+v.s+`"`), &want) != nil && !strings.ContainsAny(v.s, `"\`) {
				t.Fatalf("%q is no RFC 3339 time, yet read as %v", v.s, v.t)
			}
		}
	})
}
