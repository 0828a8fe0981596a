package netlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Listener caps the connections open at once, in total and per client
// address. A connection over a cap is closed as soon as it is accepted, so
// that the process never runs out of file descriptors (accept would then
// fail for everyone) and one address cannot take every slot.
type Listener struct {
	net.Listener
	max, perAddr int
	log          *slog.Logger

	mu        sync.Mutex
	open      int
	byAddr    map[netip.Addr]int
	lastNoted time.Time
}

// Listen wraps ln. max caps all connections, perAddr those of one address
// (Exempt addresses count only toward max).
func Listen(ln net.Listener, max, perAddr int, log *slog.Logger) *Listener {
	return &Listener{Listener: ln, max: max, perAddr: perAddr, log: log, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(c.RemoteAddr().String())
		if why := l.take(addr); why != "" {
			c.Close()
			l.note(addr, why)
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok {
			// Keeps *net.TCPConn's methods (ReadFrom, for sendfile).
			return &tcpConn{TCPConn: tc, release: l.releaser(addr)}, nil
		}
		return &conn{Conn: c, release: l.releaser(addr)}, nil
	}
}

// Open returns the number of connections open, and those of addr.
func (l *Listener) Open(addr netip.Addr) (total, fromAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.byAddr[client(addr)]
}

func (l *Listener) take(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return "the server's connection limit is reached"
	}
	perAddr := !Exempt(addr)
	key := client(addr)
	if perAddr && l.byAddr[key] >= l.perAddr {
		return "the address's connection limit is reached"
	}
	l.open++
	if perAddr {
		l.byAddr[key]++
	}
	return ""
}

// client is the key an address's connections are counted under: an IPv6
// client holds a whole /64 and could open each connection from another
// address of it, so it counts by its /64, as the rate limits do.
func client(addr netip.Addr) netip.Addr {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr()
	}
	return addr
}

func (l *Listener) releaser(addr netip.Addr) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if Exempt(addr) {
				return
			}
			key := client(addr)
			if l.byAddr[key]--; l.byAddr[key] <= 0 {
				delete(l.byAddr, key)
			}
		})
	}
}

// note logs refused connections, at most once a minute.
func (l *Listener) note(addr netip.Addr, why string) {
	l.mu.Lock()
	now := time.Now()
	quiet := now.Sub(l.lastNoted) < time.Minute
	if !quiet {
		l.lastNoted = now
	}
	l.mu.Unlock()
	if !quiet && l.log != nil {
		l.log.Warn("refusing connections (logged once a minute)", "from", addr, "reason", why, "max", l.max, "per_address", l.perAddr)
	}
}

type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	defer c.release()
	return c.Conn.Close()
}

type tcpConn struct {
	*net.TCPConn
	release func()
}

func (c *tcpConn) Close() error {
	defer c.release()
	return c.TCPConn.Close()
}

// DefaultMaxConns is the total cap when none is configured: the open-file
// limit less a reserve for the database, attachment files and the like (a
// tenth, at least 64, at most half).
func DefaultMaxConns() int { return maxConnsFor(fileLimit()) }

func maxConnsFor(files int) int {
	if files <= 0 {
		return 10000
	}
	return max(files/2, files-max(64, files/10))
}

// DefaultMaxConnsPerAddr is the per-address cap when none is configured:
// a quarter of the total, so that one address never holds every slot, and
// at most 1000 (a large office behind one NAT opens a few hundred).
func DefaultMaxConnsPerAddr(total int) int {
	return max(1, min(1000, total/4))
}
