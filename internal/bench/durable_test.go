package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDurableLogGroupCommits: every record appended by concurrent callers
// is in the file, whole, when its append returns; its stats, as the
// latency figure reads them, count every record once, in no more batches
// than records.
func TestDurableLogGroupCommits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	l, err := openDurableLog(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				if err := l.append(fmt.Sprintf("c%d", g), fmt.Appendf(nil, "m%d-%d", g, n)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	raw, err := os.ReadFile(filepath.Join(dir, "durable.log"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	r := bytes.NewReader(raw)
	field := func() string {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatalf("record %d: %v", len(seen), err)
		}
		b := make([]byte, n)
		if _, err := r.Read(b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for r.Len() > 0 {
		chat, body := field(), field()
		seen[chat+"/"+body] = true
	}
	for g := range writers {
		for n := range each {
			if k := fmt.Sprintf("c%d/m%d-%d", g, g, n); !seen[k] {
				t.Fatalf("%s is not in the log", k)
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(l.serveStats))
	defer srv.Close()
	s, err := relayCommits(ctx, srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if s != l.stats() {
		t.Fatalf("GET /durable/stats: %+v, want %+v", s, l.stats())
	}
	if s.Items != writers*each {
		t.Fatalf("%v records counted, want %d", s.Items, writers*each)
	}
	if s.Batches < 1 || s.Batches > s.Items {
		t.Fatalf("%v batches for %v records", s.Batches, s.Items)
	}
	if s.Seconds <= 0 {
		t.Fatalf("busy %vs", s.Seconds)
	}
}

// TestCPUTime: the CPU read from /proc agrees with getrusage's.
func TestCPUTime(t *testing.T) {
	rusage := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := cpuTime(os.Getpid())
	for r0 := rusage(); rusage()-r0 < 300*time.Millisecond; {
	}
	got := cpuTime(os.Getpid()) - before
	if got < 250*time.Millisecond || got > 600*time.Millisecond {
		t.Fatalf("/proc says %v of CPU over 300 ms of spinning", got)
	}
}
