package realip

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/parleychat/parley/internal/race"
)

func TestFrom(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header is ignored", "203.0.113.5:4000", []string{"1.1.1.1"}, "203.0.113.5"},
		{"trusted peer: the client it saw", "10.1.2.3:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left entries are skipped", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.7, 10.9.9.9, 192.168.1.1"}, "198.51.100.7"},
		{"several header lines read as one list", "10.1.2.3:4000", []string{"1.1.1.1", "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"all trusted: the left-most", "10.1.2.3:4000", []string{"10.0.0.9, 10.0.0.8"}, "10.0.0.9"},
		{"trusted peer without header", "10.1.2.3:4000", nil, "10.1.2.3"},
		{"malformed entry stops at the last trusted hop", "10.1.2.3:4000", []string{"198.51.100.7, junk, 10.0.0.8"}, "10.0.0.8"},
		{"malformed right-most entry: the peer", "10.1.2.3:4000", []string{"1.1.1.1, junk"}, "10.1.2.3"},
		{"IPv6 client through a trusted proxy", "[fd00::1]:4000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"bracketed with port", "10.1.2.3:4000", []string{"[2001:db8::2]:5555"}, "2001:db8::2"},
		{"IPv4-mapped peer is trusted as IPv4", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"peer's zone is dropped", "[fe80::1%eth0]:4000", nil, "fe80::1"},
		{"peer without a port", "203.0.113.9", nil, "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := From(r, trusted); got.String() != c.want {
				t.Errorf("From = %s, want %s", got, c.want)
			}
		})
	}
}

// TestFromAllocates nothing for a direct peer: every request asks.
func TestFromAllocates(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.RemoteAddr = "203.0.113.5:4000"
	if n := testing.AllocsPerRun(100, func() { From(r, nil) }); n != 0 {
		t.Errorf("From allocates %v times a request, want 0", n)
	}
}

func TestKey(t *testing.T) {
	a, b := netip.MustParseAddr("2001:db8:1:2:aaaa::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9")
	if Key(a) != Key(b) {
		t.Errorf("two addresses of one /64 have keys %s and %s", Key(a), Key(b))
	}
	if Key(a) == Key(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("another /64 shares the key")
	}
	if Key(netip.MustParseAddr("198.51.100.7")) == Key(netip.MustParseAddr("198.51.100.8")) {
		t.Error("two IPv4 addresses share a key")
	}
}

func TestParsePrefixes(t *testing.T) {
	if _, err := ParsePrefixes("10.0.0.0/8,nonsense"); err == nil {
		t.Error("nonsense was accepted")
	}
	ps, err := ParsePrefixes(" ")
	if err != nil || len(ps) != 0 {
		t.Errorf("empty list = %v, %v", ps, err)
	}
}
