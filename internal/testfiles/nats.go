package testfiles

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// NATSServer is an embedded NATS server for tests: it can be stopped and
// restarted on the same port, as a real one is by its operator.
type NATSServer struct {
	t    testing.TB
	port int
	srv  *natsserver.Server
	URL  string
}

// NATS starts an embedded NATS server on a random 127.0.0.1 port.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	s := &NATSServer{t: t, port: -1}
	s.start()
	s.URL = fmt.Sprintf("nats://127.0.0.1:%d", s.port)
	t.Cleanup(s.Stop)
	return s
}

func (s *NATSServer) start() {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true})
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("the embedded NATS server did not start")
	}
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
}

// Stop shuts the server down; its clients see the connection drop.
func (s *NATSServer) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server, waits, and starts it again on the same port.
func (s *NATSServer) Restart(down time.Duration) {
	s.Stop()
	time.Sleep(down)
	s.start()
}

// NATSBinary returns Debian's nats-server, or "" when it is not installed.
func NATSBinary() string {
	if p := os.Getenv("PARLEY_NATS_SERVER"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	return ""
}

// NATSProcess starts the real nats-server binary on a free 127.0.0.1
// port and returns its URL. Without it the test is skipped, saying so,
// unless CI is set: there that is a failure, since .ci/run installs it.
func NATSProcess(t testing.TB) string {
	t.Helper()
	bin := NATSBinary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("nats-server is not installed (.ci/run installs Debian's nats-server)")
		}
		t.Skip("nats-server is not installed: apt-get install nats-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(addr.Port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr.String())
		if err == nil {
			c.Close()
			return "nats://" + addr.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server did not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NATSLossyProxy is a TCP proxy in front of a NATS server that drops
// every k-th message the server delivers to its clients (MSG and HMSG
// frames; the protocol's other lines pass), as a lossy network or an
// overloaded server would.
type NATSLossyProxy struct {
	URL     string
	every   atomic.Int64
	n       atomic.Int64
	Dropped atomic.Int64
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
}

// NATSLossy starts a proxy to upstream (host:port or nats://host:port)
// dropping every k-th delivered message (0 drops none).
func NATSLossy(t testing.TB, upstream string, k int) *NATSLossyProxy {
	t.Helper()
	upstream = strings.TrimPrefix(upstream, "nats://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &NATSLossyProxy{URL: "nats://" + ln.Addr().String(), ln: ln}
	p.every.Store(int64(k))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c, upstream)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// DropEvery changes k.
func (p *NATSLossyProxy) DropEvery(k int) { p.every.Store(int64(k)) }

func (p *NATSLossyProxy) serve(client net.Conn, upstream string) {
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, client, server)
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		io.Copy(server, client)
		server.Close()
		close(done)
	}()
	r := bufio.NewReaderSize(server, 64<<10)
	w := bufio.NewWriterSize(client, 64<<10)
	defer func() { client.Close(); server.Close(); <-done }()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		var body []byte
		if strings.HasPrefix(line, "MSG ") || strings.HasPrefix(line, "HMSG ") {
			f := strings.Fields(line)
			size, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return
			}
			body = make([]byte, size+2)
			if _, err := io.ReadFull(r, body); err != nil {
				return
			}
			if k := p.every.Load(); k > 0 && p.n.Add(1)%k == 0 {
				p.Dropped.Add(1)
				continue
			}
		}
		w.WriteString(line)
		w.Write(body)
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}
