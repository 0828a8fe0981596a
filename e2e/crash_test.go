package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/store/postgres"
)

var parleyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-bin")
	if err != nil {
		panic(err)
	}
	parleyBin = filepath.Join(dir, "parley")
	build := exec.Command("go", "build", "-o", parleyBin, "../cmd/parley")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building parley:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m, migratePostgres)
	os.RemoveAll(dir)
	os.Exit(code)
}

// migratePostgres migrates the template database once, not every test's.
func migratePostgres(url string) error {
	db, err := postgres.Open(context.Background(), url, nil)
	if err != nil {
		return err
	}
	return db.Close()
}

// process is a `parley serve` running as its own process.
type process struct {
	cmd *exec.Cmd
	url string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// startProcess runs the built binary on dataDir (and databaseURL, if not
// "") and waits until it listens.
func startProcess(t *testing.T, dataDir, databaseURL string) *process {
	t.Helper()
	return startProcessWith(t, dataDir, 0, "PARLEY_DATABASE_URL="+databaseURL)
}

// startProcessWith is startProcess with an open-file limit (0: inherited)
// and more environment ("NAME=value").
func startProcessWith(t *testing.T, dataDir string, fileLimit int, env ...string) *process {
	t.Helper()
	cmd := exec.Command(parleyBin, "serve")
	if fileLimit > 0 {
		cmd = exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" serve`, fileLimit), parleyBin)
	}
	cmd.Env = append(os.Environ(), "PARLEY_ADDR=127.0.0.1:0", "PARLEY_DATA_DIR="+dataDir,
		"PARLEY_ACCESS_KEY_ID="+testAKID, "PARLEY_SECRET_ACCESS_KEY="+testSecret, "PARLEY_INSTANCE_ID=test-instance")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("parley did not start listening within 30s")
	}
	return p
}

// kill ends the process at once, as a crash would (SIGKILL).
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// TestCrashLosesNothingAcknowledged kills the server with SIGKILL during a
// burst of concurrent SendMessage calls and restarts it on the same data:
// every message that got a 200 is in the transcript, nothing is duplicated,
// and retrying the unanswered requests with their ClientTokens adds each
// message exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	testCrash(t, databaseURL(t))
}

// TestCrashLosesNothingAcknowledgedPostgres is the crash test on
// PostgreSQL, whichever backend the rest of the suite runs on.
func TestCrashLosesNothingAcknowledgedPostgres(t *testing.T) {
	if onPostgres {
		t.Skip("TestCrashLosesNothingAcknowledged runs on PostgreSQL already")
	}
	testCrash(t, pgtest.NewDatabase(t))
}

func testCrash(t *testing.T, databaseURL string) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir, databaseURL)
	ts := &testServer{URL: p.url, InstanceID: "test-instance"}

	// 256 concurrent senders, as in the throughput benchmark: durability is
	// not traded for speed. Over 64 chats, so that each participant stays
	// within the default rate limit's burst.
	const chats, sendersPerChat = 64, 4
	tokens := make([]string, chats)
	for i := range tokens {
		tokens[i] = ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)
	}

	type sent struct {
		chat        int
		clientToken string
		id          string // "" if the server never answered
	}
	var (
		mu      sync.Mutex
		results []sent
		wg      sync.WaitGroup
	)
	ctx, stop := context.WithCancel(context.Background())
	pc := ts.participantClient()
	for c := range chats {
		for s := range sendersPerChat {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ctx.Err() == nil; n++ {
					token := fmt.Sprintf("c%d-s%d-n%d", c, s, n)
					out, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tokens[c]),
						ContentType: v1aws.String("text/plain"), Content: v1aws.String(token), ClientToken: v1aws.String(token)})
					r := sent{chat: c, clientToken: token}
					if err == nil {
						r.id = *out.Id
					}
					mu.Lock()
					results = append(results, r)
					mu.Unlock()
					if err != nil {
						return // the server is gone
					}
				}
			}()
		}
	}
	// Kill mid-burst once enough is acknowledged to test anything: a fixed
	// wait is too short when the machine (or the race detector) is slow.
	time.Sleep(700 * time.Millisecond)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := len(results)
		mu.Unlock()
		if n >= 300 {
			break
		}
	}
	p.kill()
	stop()
	wg.Wait()

	acked := 0
	for _, r := range results {
		if r.id != "" {
			acked++
		}
	}
	if acked < 100 {
		t.Fatalf("only %d messages acknowledged before the kill; the burst was too small to test anything", acked)
	}
	t.Logf("%d messages acknowledged, %d unanswered at the kill", acked, len(results)-acked)

	p = startProcess(t, dataDir, databaseURL)
	ts.URL = p.url
	pc = ts.participantClient()
	transcript := func(chat int) map[string][]string {
		t.Helper()
		byContent := map[string][]string{}
		err := pc.GetTranscriptPages(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tokens[chat]), MaxResults: v1aws.Int64(100)},
			func(page *cp.GetTranscriptOutput, _ bool) bool {
				for _, it := range page.Transcript {
					if *it.Type == "MESSAGE" {
						byContent[*it.Content] = append(byContent[*it.Content], *it.Id)
					}
				}
				return true
			})
		if err != nil {
			t.Fatalf("GetTranscript after restart (the connection token must survive too): %v", err)
		}
		return byContent
	}

	stored := make([]map[string][]string, chats)
	for c := range chats {
		stored[c] = transcript(c)
		for content, ids := range stored[c] {
			if len(ids) > 1 {
				t.Errorf("chat %d: %q stored %d times", c, content, len(ids))
			}
		}
	}
	for _, r := range results {
		ids := stored[r.chat][r.clientToken]
		if r.id != "" && (len(ids) != 1 || ids[0] != r.id) {
			t.Errorf("acknowledged message %s (%s) is missing after the crash: %v", r.clientToken, r.id, ids)
		}
	}

	// Retry everything that went unanswered, as an SDK would.
	for _, r := range results {
		if r.id != "" {
			continue
		}
		_, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tokens[r.chat]),
			ContentType: v1aws.String("text/plain"), Content: v1aws.String(r.clientToken), ClientToken: v1aws.String(r.clientToken)})
		if err != nil {
			t.Fatalf("retry of %s: %v", r.clientToken, err)
		}
	}
	for c := range chats {
		stored[c] = transcript(c)
	}
	for _, r := range results {
		if got := len(stored[r.chat][r.clientToken]); got != 1 {
			t.Errorf("%s: stored %d times after the retries, want exactly 1", r.clientToken, got)
		}
	}
}

// TestGracefulShutdown: SIGTERM stops the server cleanly (exit status 0),
// and what it acknowledged is there on the next start.
func TestGracefulShutdown(t *testing.T) {
	dataDir, dbURL := t.TempDir(), databaseURL(t)
	p := startProcess(t, dataDir, dbURL)
	ts := &testServer{URL: p.url, InstanceID: "test-instance"}
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	if _, err := ts.participantClient().SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tok),
		ContentType: v1aws.String("text/plain"), Content: v1aws.String("kept")}); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("parley exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parley did not exit within 20s of SIGTERM")
	}

	ts.URL = startProcess(t, dataDir, dbURL).url
	out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Transcript); n == 0 || aws2str(out.Transcript[0].Content) != "kept" {
		t.Errorf("after a restart the newest item is %v", out.Transcript)
	}
}

func aws2str(s *string) string { return v1aws.StringValue(s) }

// TestCrashMidUploadLeavesItsURLRetryable: the server is killed while it
// receives an upload; on the next start, the client's retry of the same
// upload URL is received and the attachment completes. The crashed PUT's
// claim on the URL died with its process: it must not answer 409 ("already
// being uploaded") until the URL expires. On SQLite, whose database one
// process owns.
func TestCrashMidUploadLeavesItsURLRetryable(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir, "")
	ts := &testServer{URL: p.url, InstanceID: "test-instance", DataDir: dataDir}
	_, _, tok, _ := ts.withAgent(t)
	pc := ts.participantClient()
	data := strings.Repeat("a line of the notes a crash cut short\n", 200)
	up := must[*cp.StartAttachmentUploadOutput](t)(pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("notes.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(data))), ClientToken: v1aws.String("notes")}))
	url := *up.UploadMetadata.Url

	c, err := dialFrom(context.Background(), "127.0.0.1", p.url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(url, p.url), len(data), data[:100])
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, tmp := blobFiles(t, dataDir); len(tmp) > 0 {
			break // the server claimed the URL and is writing the file
		}
		if time.Now().After(deadline) {
			t.Fatal("the PUT never began writing its file")
		}
	}
	p.kill()

	p = startProcess(t, dataDir, "")
	ts.URL = p.url
	pc = ts.participantClient()
	retry := strings.Replace(url, strings.TrimSuffix(url[:strings.Index(url, "/attachments/")], "/"), p.url, 1)
	req, _ := http.NewRequest("PUT", retry, strings.NewReader(data))
	req.Header.Set("Content-Type", "text/plain")
	resp, body := send(t, req)
	equal(t, "the retry's status after the crash ("+string(body)+")", resp.StatusCode, http.StatusOK)
	if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*up.AttachmentId}), ClientToken: v1aws.String("done")}); err != nil {
		t.Fatalf("CompleteAttachmentUpload after the retry: %v", err)
	}
}
