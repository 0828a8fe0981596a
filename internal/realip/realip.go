// Package realip finds the address of the client behind a request: the
// direct peer, or, when the peer is a trusted reverse proxy, the right-most
// address in X-Forwarded-For that no trusted proxy added. Rate limits key on
// Key, which folds an IPv6 address into its /64 (one host's usual share).
package realip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// From returns the client address of r. X-Forwarded-For is read only when
// the direct peer is in trusted, and then from the right: each hop appends
// the address it received from, so the right-most entry that is not a
// trusted proxy is the first one a trusted proxy vouches for; everything to
// its left is whatever the client chose to send. A malformed entry stops
// the walk at the last trusted hop.
func From(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parsePeer(r.RemoteAddr)
	if !peer.IsValid() || !contains(trusted, peer) {
		return peer
	}
	addr := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			a := parse(strings.TrimSpace(entries[j]))
			if !a.IsValid() {
				return addr
			}
			addr = a
			if !contains(trusted, a) {
				return a
			}
		}
	}
	return addr // every hop was a trusted proxy: the left-most is the client
}

// parse reads an address, with or without a port ("1.2.3.4", "[::1]:80");
// an IPv4-mapped IPv6 address becomes IPv4, and a zone is dropped.
func parse(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

// parsePeer is parse for a RemoteAddr, which has a port: trying that form
// first spares every request a failed parse (and its error value).
func parsePeer(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	return parse(s)
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Key is what a per-client limit counts under: an IPv4 address itself, an
// IPv6 address's /64, since one subscriber is handed a whole /64 and can
// rotate through it at will. An invalid address (a request that did not
// come over IP) shares one key.
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ParsePrefixes reads a comma-separated list of CIDRs or bare addresses (a
// bare address is a one-address prefix), as PARLEY_TRUSTED_PROXIES holds.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR such as 10.0.0.0/8", s)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
