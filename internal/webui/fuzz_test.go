package webui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// qvalue is RFC 9110 §12.4.2's grammar of a weight.
var qvalue = regexp.MustCompile(`^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$`)

// refAcceptsGzip reads Accept-Encoding as RFC 9110 §12.5.3 says: gzip is
// acceptable when its element's weight is above 0 (absent, 1). decided is
// false for a weight outside the grammar, on which the RFC says nothing.
func refAcceptsGzip(h string) (ok, decided bool) {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, weights := 1.0, 0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if !strings.EqualFold(k, "q") {
				continue
			}
			if weights++; weights > 1 || !qvalue.MatchString(v) {
				return false, false // an element has one weight at most
			}
			q, _ = strconv.ParseFloat(v, 64)
		}
		return q > 0, true
	}
	return false, true
}

// FuzzAcceptsGzip holds the widget's Accept-Encoding reading to the RFC:
// a browser or proxy that refuses gzip (q=0, in any of its spellings)
// never gets it, and one that takes it does.
func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "gzip, deflate, br, zstd", "gzip;q=0", "gzip;q=0.5", "gzip; q=1.0, identity; q=0.5, *;q=0",
		"br;q=1.0, gzip;q=0.8, *;q=0.1", "GZIP", "identity", "", "deflate, gzip;q=0.0", "gzip;Q=0", "gzip;q=0.000", "x-gzip", "gzip;q=abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		want, decided := refAcceptsGzip(h)
		if got := acceptsGzip(h); decided && got != want {
			t.Fatalf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	})
}
