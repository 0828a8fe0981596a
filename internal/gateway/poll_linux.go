package gateway

import (
	"errors"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller tells when idle sockets become readable, so that a socket waiting
// for its client holds no goroutine and no buffer. It is an epoll instance
// of its own beside the Go runtime's: it only watches for readiness, through
// the descriptor that net.Conn's SyscallConn lends (the runtime keeps it
// open while Control runs), and never reads; the socket's goroutine reads
// through net.Conn as usual. Each watch is one-shot: a socket is armed again
// only once its reader has finished, so one socket never has two readers.
type poller struct {
	epfd int
	wake int // an eventfd that ends run

	mu     sync.RWMutex // closed, and epfd's life: Lock to close it
	closed bool

	smu   sync.Mutex
	socks map[uint64]*socket
	next  uint64 // the last token handed out; 0 is the eventfd's
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	return &poller{epfd: epfd, wake: wake, socks: make(map[uint64]*socket)}, nil
}

// add watches a socket's connection; armed, its ready runs once the client
// sends, else once armed. An error means the connection cannot be watched.
func (p *poller) add(s *socket, rc syscall.RawConn, armed bool) error {
	p.smu.Lock()
	p.next++
	s.token = p.next
	p.socks[s.token] = s
	p.smu.Unlock()
	var events uint32 = unix.EPOLLONESHOT
	if armed {
		events = readable
	}
	if err := p.ctl(rc, unix.EPOLL_CTL_ADD, s.token, events); err != nil {
		p.smu.Lock()
		delete(p.socks, s.token)
		p.smu.Unlock()
		return err
	}
	return nil
}

// arm watches the socket again after its reader has finished.
func (p *poller) arm(s *socket, rc syscall.RawConn) error {
	return p.ctl(rc, unix.EPOLL_CTL_MOD, s.token, readable)
}

// remove stops watching a socket; call it before closing the connection.
func (p *poller) remove(s *socket, rc syscall.RawConn) {
	p.ctl(rc, unix.EPOLL_CTL_DEL, s.token, 0) // fails only if the connection is closed, which unwatches it
	p.smu.Lock()
	delete(p.socks, s.token)
	p.smu.Unlock()
}

var errPollerClosed = errors.New("gateway: poller closed")

// readable is a one-shot watch for data, or the client's end of the
// connection (which a read then reports).
const readable = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func (p *poller) ctl(rc syscall.RawConn, op int, token uint64, events uint32) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errPollerClosed
	}
	ev := unix.EpollEvent{Events: events,
		Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	var err error
	if cerr := rc.Control(func(fd uintptr) { err = unix.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	return err
}

// run hands each readable socket to a new goroutine until stop closes.
func (p *poller) run(stop <-chan struct{}) {
	go func() {
		<-stop
		var one = [8]byte{1}
		unix.Write(p.wake, one[:])
	}()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if token == 0 {
				return
			}
			p.smu.Lock()
			s := p.socks[token]
			p.smu.Unlock()
			if s != nil {
				go s.ready()
			}
		}
	}
}

// close releases the epoll instance once run has returned.
func (p *poller) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		unix.Close(p.epfd)
		unix.Close(p.wake)
	}
}
