package e2e

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/testfiles"
)

// silentClamd accepts connections and never answers on them.
func silentClamd(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestClamdThatNeverAnswersDoesNotHoldStartup: start-up checks clamd, but
// does not wait a scan's timeout (60 s) for one that never answers.
func TestClamdThatNeverAnswersDoesNotHoldStartup(t *testing.T) {
	started := time.Now()
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLAMD", silentClamd(t))
	resp, _ := rawRequest(t, "GET", ts.URL+"/healthz", nil, "")
	if d := time.Since(started); resp.StatusCode != 200 || d > 5*time.Second {
		t.Errorf("/healthz answered %d after %v, want 200 within 5 s", resp.StatusCode, d)
	}
}

// TestScannerDownRejectsWithAGenericReason: when clamd cannot be reached,
// the file is rejected, and what participants see says so without the
// server's network details.
func TestScannerDownRejectsWithAGenericReason(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLAMD", "127.0.0.1:1")
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	id := upload(t, ts, tok, testfiles.File{Name: "notes.txt", Type: "text/plain", Data: []byte("hello")})
	var reason string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, body := rawRequest(t, "POST", ts.URL+"/participant/attachment", map[string]string{"X-Amz-Bearer": tok},
			`{"AttachmentId":"`+id+`"}`)
		if resp.StatusCode == 400 && strings.Contains(string(body), "rejected") {
			reason = string(body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetAttachment: %d %s, want the rejection", resp.StatusCode, body)
		}
	}
	out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Transcript {
		if len(it.Attachments) > 0 {
			reason += " " + v1aws.StringValue(it.Content)
		}
	}
	if !strings.Contains(reason, "could not be scanned") {
		t.Errorf("rejection reason %q does not say the file could not be scanned", reason)
	}
	for _, leak := range []string{"dial", "127.0.0.1", "refused"} {
		if strings.Contains(reason, leak) {
			t.Errorf("rejection reason shows %q to participants: %s", leak, reason)
		}
	}
}
