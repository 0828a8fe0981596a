package netlimit

import (
	"net"
	"net/netip"
	"testing"
)

// fakeListener hands out one end of a pipe per address in addrs, each
// reporting that address as its peer.
type fakeListener struct {
	addrs []string
	peers []net.Conn
}

type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

func (l *fakeListener) Accept() (net.Conn, error) {
	if len(l.addrs) == 0 {
		return nil, net.ErrClosed
	}
	a := l.addrs[0]
	l.addrs = l.addrs[1:]
	server, client := net.Pipe()
	l.peers = append(l.peers, client)
	return fakeConn{server, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(a))}, nil
}
func (l *fakeListener) Close() error   { return nil }
func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestListenerCapsAnIPv6ClientByItsSlash64: an IPv6 client holds a whole
// /64 and can open each connection from another address of it, so the
// per-address cap counts the /64, as the rate limits do.
func TestListenerCapsAnIPv6ClientByItsSlash64(t *testing.T) {
	fl := &fakeListener{addrs: []string{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2::2]:1000", "[2001:db8:1:2::3]:1000", "[2001:db8:1:3::1]:1000"}}
	l := Listen(fl, 100, 2, nil)
	var got []string
	for {
		c, err := l.Accept()
		if err != nil {
			break
		}
		got = append(got, c.RemoteAddr().String())
	}
	want := []string{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2::2]:1000", "[2001:db8:1:3::1]:1000"}
	if len(got) != len(want) {
		t.Fatalf("accepted %v, want %v (cap 2 per /64)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("accepted %v, want %v (cap 2 per /64)", got, want)
		}
	}
	if _, from := l.Open(netip.MustParseAddr("2001:db8:1:2::99")); from != 2 {
		t.Errorf("Open counts %d connections for the /64, want 2", from)
	}
}
