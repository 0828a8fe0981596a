package realip

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzFrom: whatever a client puts in X-Forwarded-For, From answers the
// peer itself unless the peer is a trusted proxy; otherwise an address
// that is the peer or one of the entries, with only trusted hops to its
// right, and never a zone or an IPv4-mapped form (which would give one
// client two rate-limit keys).
func FuzzFrom(f *testing.F) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1, fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][3]string{
		{"203.0.113.5:4000", "1.1.1.1", ""},
		{"10.1.2.3:4000", "1.1.1.1, 198.51.100.7", ""},
		{"10.1.2.3:4000", "1.1.1.1, 198.51.100.7, 10.9.9.9, 192.168.1.1", ""},
		{"10.1.2.3:4000", "1.1.1.1", "198.51.100.7, 10.9.9.9"},
		{"10.1.2.3:4000", "10.0.0.9, 10.0.0.8", ""},
		{"10.1.2.3:4000", "198.51.100.7, junk, 10.0.0.8", ""},
		{"[fd00::1]:4000", "2001:db8::1", ""},
		{"10.1.2.3:4000", "[2001:db8::2]:5555", "::ffff:10.0.0.1"},
		{"[::ffff:10.1.2.3]:4000", "fe80::1%eth0", ""},
		{"[fe80::1%eth0]:4000", "", ""},
		{"203.0.113.9", "", ""},
		{"@", "1.1.1.1", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var entries []string
		for _, h := range []string{xff1, xff2} {
			if h != "" {
				r.Header.Add("X-Forwarded-For", h)
				entries = append(entries, strings.Split(h, ",")...)
			}
		}
		got := From(r, trusted)
		peer := parsePeer(remote)
		if !peer.IsValid() || !contains(trusted, peer) {
			if got != peer {
				t.Fatalf("untrusted peer %q: From = %v, want the peer %v", remote, got, peer)
			}
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("From = %v (%q, %q, %q)", got, remote, xff1, xff2)
		}
		if got == peer {
			return
		}
		// got is one of the entries; every entry to its right is a trusted hop.
		at := -1
		for i := len(entries) - 1; i >= 0; i-- {
			a := parse(strings.TrimSpace(entries[i]))
			if a == got {
				at = i
				break
			}
			if !a.IsValid() || !contains(trusted, a) {
				t.Fatalf("From = %v, past the untrusted or malformed entry %q (%q, %q)", got, entries[i], xff1, xff2)
			}
		}
		if at < 0 {
			t.Fatalf("From = %v, neither the peer nor an entry of %q, %q", got, xff1, xff2)
		}
		// A trusted answer stops the walk only at the left end or before a
		// malformed entry.
		if contains(trusted, got) && at > 0 && parse(strings.TrimSpace(entries[at-1])).IsValid() {
			t.Fatalf("From = %v, a trusted hop, though %q is to its left", got, entries[at-1])
		}
	})
}

// FuzzParsePrefixes: a list PARLEY_TRUSTED_PROXIES accepts reads back
// the same from its own String form, and every prefix is masked and
// without a zone, so that Contains compares like with like.
func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8, 192.168.1.1, fd00::/8", "", " , ", "10.1.2.3/8", "::ffff:10.0.0.1", "fe80::1%eth0", "1.2.3.4/33", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ps, err := ParsePrefixes(list)
		if err != nil {
			return
		}
		var s []string
		for _, p := range ps {
			if p != p.Masked() || p.Addr().Zone() != "" || !p.IsValid() {
				t.Fatalf("%q: prefix %v", list, p)
			}
			s = append(s, p.String())
		}
		again, err := ParsePrefixes(strings.Join(s, ","))
		if err != nil || len(again) != len(ps) {
			t.Fatalf("%q: %v reads back as %v, %v", list, ps, again, err)
		}
		for i := range ps {
			if again[i] != ps[i] {
				t.Fatalf("%q: %v reads back as %v", list, ps, again)
			}
		}
	})
}
