package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/bench"
)

// textStream produces n bytes of numbered text lines without holding them.
type textStream struct {
	left int64
	line int
	buf  []byte
}

func (s *textStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && s.left > 0 {
		if len(s.buf) == 0 {
			s.line++
			s.buf = fmt.Appendf(s.buf[:0], "line %08d of a large customer upload\n", s.line)
		}
		c := copy(p[n:min(len(p), n+int(min(s.left, int64(len(p)-n))))], s.buf)
		s.buf = s.buf[c:]
		n += c
		s.left -= int64(c)
	}
	return n, nil
}

// rssKB reads a /proc/PID/status field in kB.
func rssKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	kb := bench.StatusKB(pid, field)
	if kb == 0 {
		t.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	return kb
}

// TestConcurrentLargeUploadsKeepMemoryFlat: twenty concurrent 20 MB uploads
// grow the server's resident memory by far less than one file: bytes are
// streamed, never held.
func TestConcurrentLargeUploadsKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 400 MB")
	}
	p := startProcess(t, t.TempDir(), databaseURL(t))
	ts := &testServer{URL: p.url, InstanceID: "test-instance"}
	pid := p.cmd.Process.Pid
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	const uploads, size = 20, 20 << 20

	type ticket struct{ id, url string }
	tickets := make([]ticket, uploads)
	for i := range tickets {
		out, err := pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
			AttachmentName: v1aws.String(fmt.Sprintf("export-%02d.txt", i)), ContentType: v1aws.String("text/plain"),
			AttachmentSizeInBytes: v1aws.Int64(size), ClientToken: v1aws.String(fmt.Sprint("big", i))})
		if err != nil {
			t.Fatal(err)
		}
		tickets[i] = ticket{*out.AttachmentId, *out.UploadMetadata.Url}
	}
	want := sha256.New()
	io.Copy(want, &textStream{left: size})
	wantSum := hex.EncodeToString(want.Sum(nil))

	// The baseline is the warmed-up server at rest; the peak is sampled and
	// also read from the kernel's high-water mark, reset first.
	baseline := rssKB(t, pid, "VmRSS")
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				if r := rssKB(t, pid, "VmRSS"); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	started := time.Now()
	var wg sync.WaitGroup
	for _, tk := range tickets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", tk.url, &textStream{left: size})
			req.ContentLength = size
			req.Header.Set("Content-Type", "text/plain")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+wantSum+`"` {
				t.Errorf("upload %s: %d, ETag %s", tk.id, resp.StatusCode, resp.Header.Get("ETag"))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	close(stop)
	hwm := rssKB(t, pid, "VmHWM")
	growth := max(peak.Load(), hwm) - baseline
	t.Logf("%d × %d MB uploaded in %v (%.0f MB/s); server RSS %d MB at rest, peak %d MB (growth %d MB)",
		uploads, size>>20, elapsed.Round(time.Millisecond), float64(uploads*size)/(1<<20)/elapsed.Seconds(),
		baseline>>10, max(peak.Load(), hwm)>>10, growth>>10)
	if growth > 64<<10 {
		t.Errorf("server memory grew by %d MB during the uploads; want at most 64 MB", growth>>10)
	}
	for _, tk := range tickets {
		if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
			AttachmentIds: v1aws.StringSlice([]string{tk.id}), ClientToken: v1aws.String("c" + tk.id)}); err != nil {
			t.Fatal(err)
		}
	}
}
