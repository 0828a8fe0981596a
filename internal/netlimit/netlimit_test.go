package netlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLimiterBurstRefillAndSweep(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(Rate{PerSecond: 2, Burst: 3})
	l.now = func() time.Time { return now }
	for i := range 3 {
		if !l.Allow("a") {
			t.Fatalf("call %d of the burst refused", i)
		}
	}
	if l.Allow("a") {
		t.Fatal("a fourth call at once was allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key shares a's bucket")
	}
	now = now.Add(500 * time.Millisecond) // one token back
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("half a second at 2/s must give back exactly one call")
	}
	now = now.Add(2 * time.Minute) // every bucket full again
	l.Allow("c")
	if n := l.Len(); n != 1 {
		t.Errorf("after the sweep %d buckets are kept, want 1 (c)", n)
	}
	var off *Limiter
	if !off.Allow("x") || !NewLimiter(Rate{}).Allow("x") {
		t.Error("a nil limiter or a zero rate must allow everything")
	}
}

func TestClientAddrAndExempt(t *testing.T) {
	for _, tt := range []struct {
		remote string
		want   string
		exempt bool
	}{
		{"127.0.0.1:5000", "127.0.0.1", true},
		{"[::1]:5000", "::1", true},
		{"[::ffff:127.0.0.1]:5000", "127.0.0.1", true},
		{"127.0.0.2:5000", "127.0.0.2", false},
		{"203.0.113.9:443", "203.0.113.9", false},
		{"[2001:db8::1]:443", "2001:db8::1", false},
	} {
		r := &http.Request{RemoteAddr: tt.remote}
		got := ClientAddr(r)
		if got.String() != tt.want || Exempt(got) != tt.exempt {
			t.Errorf("%s: %s exempt=%v, want %s exempt=%v", tt.remote, got, Exempt(got), tt.want, tt.exempt)
		}
	}
	if ClientAddr(&http.Request{RemoteAddr: "garbage"}).IsValid() {
		t.Error("an unparsable RemoteAddr gave an address")
	}
}

// dialFrom opens a TCP connection to addr from the local address from.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (read gets EOF or a
// reset) within a short time.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestListenerCapsPerAddressAndTotal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(raw, 5, 2, nil)
	defer l.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	addr := raw.Addr().String()
	wait := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if total, _ := l.Open(netip.Addr{}); total == want {
				return
			}
			if time.Now().After(deadline) {
				total, _ := l.Open(netip.Addr{})
				t.Fatalf("%d connections open, want %d", total, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	a1, a2 := dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.2", addr)
	wait(2)
	if a3 := dialFrom(t, "127.0.0.2", addr); !closedByServer(a3) {
		t.Error("a third connection from one address was kept (cap 2)")
	}
	if b := dialFrom(t, "127.0.0.3", addr); closedByServer(b) {
		t.Error("another address was refused")
	}
	// Loopback is not capped per address, only in total.
	dialFrom(t, "127.0.0.1", addr)
	dialFrom(t, "127.0.0.1", addr)
	wait(5)
	if c := dialFrom(t, "127.0.0.1", addr); !closedByServer(c) {
		t.Error("a connection over the total cap was kept")
	}
	// Closing releases the slot: server side closes, as http.Server does.
	a1.Close()
	(<-accepted).Close()
	a2.Close()
	wait(4)
	if a4 := dialFrom(t, "127.0.0.2", addr); closedByServer(a4) {
		t.Error("a freed slot was not given back")
	}
	if _, from := l.Open(netip.MustParseAddr("127.0.0.1")); from != 0 {
		t.Errorf("loopback is counted per address: %d", from)
	}
}

// slowPost sends a POST's headers announcing size bytes, and then only
// first, returning the connection.
func slowPost(t *testing.T, url, path string, size int, first string) net.Conn {
	t.Helper()
	c := dialFrom(t, "127.0.0.1", strings.TrimPrefix(url, "http://"))
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, size, first)
	return c
}

func TestBodyDeadlineCutsAStalledBody(t *testing.T) {
	got := make(chan error, 1)
	srv := httptest.NewServer(BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
		if err != nil {
			http.Error(w, "slow", http.StatusBadRequest)
		}
	}), 300*time.Millisecond))
	defer srv.Close()
	start := time.Now()
	c := slowPost(t, srv.URL, "/", 1<<20, "{")
	select {
	case err := <-got:
		if !errors.Is(err, ErrSlowBody) {
			t.Fatalf("reading the stalled body: %v, want ErrSlowBody", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled body was still being read after 5 s")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("cut after %v, before the deadline", d)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the slow client's answer: %v %v", resp, err)
	}

	// A body that arrives in time is read, and the deadline does not outlive
	// it: a handler that works longer after reading is not cancelled.
	done := make(chan error, 1)
	srv2 := httptest.NewServer(BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		select {
		case <-time.After(600 * time.Millisecond):
			done <- nil
		case <-r.Context().Done():
			done <- r.Context().Err()
		}
	}), 200*time.Millisecond))
	defer srv2.Close()
	resp, err = http.Post(srv2.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Errorf("the request was cancelled after its body was read: %v", err)
	}
}

func TestMinRateKeepsSteadyUploadsAndCutsStalledOnes(t *testing.T) {
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, _ = MinRate(w, r, 500, time.Second) // 500 bytes every second
		n, err := io.Copy(io.Discard, r.Body)
		got <- result{n, err}
	}), 100*time.Millisecond)) // shorter than the upload takes: MinRate replaces it
	defer srv.Close()

	// Steady: 100 bytes every 25 ms for a second (4000 B/s, eight times the
	// minimum, so that a busy machine's late wake-ups do not fail it) passes.
	c := slowPost(t, srv.URL, "/", 4000, "")
	for range 40 {
		c.Write([]byte(strings.Repeat("x", 100)))
		time.Sleep(25 * time.Millisecond)
	}
	if r := <-got; r.err != nil || r.n != 4000 {
		t.Fatalf("a steady upload: %d bytes, %v", r.n, r.err)
	}

	// Stalled after a good start: cut one window after the last progress.
	c = slowPost(t, srv.URL, "/", 1<<20, strings.Repeat("x", 500))
	select {
	case r := <-got:
		if !errors.Is(r.err, ErrSlowBody) || !strings.Contains(r.err.Error(), "500 bytes a second") {
			t.Fatalf("a stalled upload: %d bytes, %v", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled upload was still being read after 5 s")
	}
	_ = c
}

func TestMinRateZeroLiftsTheDeadlineAndInterruptStopsARead(t *testing.T) {
	got := make(chan error, 1)
	bodies := make(chan interface{ Interrupt() }, 1)
	srv := httptest.NewServer(BodyDeadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, _ = MinRate(w, r, 0, 0)
		bodies <- r.Body.(interface{ Interrupt() })
		_, err := io.Copy(io.Discard, r.Body)
		got <- err
	}), 100*time.Millisecond))
	defer srv.Close()

	// Rate 0: no minimum, and BodyDeadline's 100 ms no longer applies.
	c := slowPost(t, srv.URL, "/", 3, "a")
	<-bodies
	time.Sleep(300 * time.Millisecond)
	c.Write([]byte("bc"))
	if err := <-got; err != nil {
		t.Fatalf("a slow body with no minimum rate: %v", err)
	}

	// Interrupt ends a read that is waiting for bytes.
	slowPost(t, srv.URL, "/", 10, "a")
	b := <-bodies
	time.Sleep(50 * time.Millisecond)
	b.Interrupt()
	select {
	case err := <-got:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("an interrupted read: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Interrupt did not end the read")
	}
}

func TestDefaultConnectionCaps(t *testing.T) {
	for _, tt := range []struct{ files, total, perAddr int }{
		{300, 236, 59},
		{100, 50, 12},
		{20000, 18000, 1000},
		{1 << 20, 943719, 1000},
		{0, 10000, 1000}, // unknown
	} {
		total := maxConnsFor(tt.files)
		if total != tt.total || DefaultMaxConnsPerAddr(total) != tt.perAddr {
			t.Errorf("%d files: %d connections, %d per address; want %d, %d", tt.files, total, DefaultMaxConnsPerAddr(total), tt.total, tt.perAddr)
		}
	}
}
