// Package netlimit keeps one client from taking what others need: it caps
// open connections in total and per client address, bounds how long a
// request body may take, and rate-limits requests with token buckets.
//
// Per-address limits skip the addresses Exempt reports, by default this
// host's own loopback addresses (127.0.0.1 and ::1): behind a reverse proxy
// on the same host every client arrives from there, and local tools such as
// `parley bench` and the tests do too, so one bucket for that address would
// throttle everyone together and protect nothing.
package netlimit

import (
	"net"
	"net/http"
	"net/netip"
)

// ClientAddr is the address a request came from: the TCP peer. It is the
// zero Addr when RemoteAddr cannot be parsed.
func ClientAddr(r *http.Request) netip.Addr {
	return addrOf(r.RemoteAddr)
}

func addrOf(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return netip.Addr{}
		}
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

var (
	loopback4 = netip.MustParseAddr("127.0.0.1")
	loopback6 = netip.IPv6Loopback()
)

// Exempt reports whether per-address limits skip addr: this host's own
// loopback addresses. (Other 127.0.0.0/8 addresses are limited like any
// client, which is also how the tests play an attacker on one machine.)
func Exempt(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr == loopback4 || addr == loopback6
}
