package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/testfiles"
)

// TestBackupUnderLoadRestores takes a backup while SendMessage bursts into
// eight chats, restores it into a new data dir, and finds there every
// message acknowledged before the backup started, once, and an attachment
// uploaded before it, byte for byte.
func TestBackupUnderLoadRestores(t *testing.T) {
	if onPostgres {
		t.Skip("parley backup covers SQLite deployments; PostgreSQL ones are backed up with pg_dump")
	}
	ts := startServer(t)
	pc := ts.participantClient()
	var toks []string
	for range 8 {
		c := ts.startChat(t, nil)
		toks = append(toks, ts.connectionToken(t, c.ParticipantToken))
	}
	file := testfiles.All()[0]
	attID := upload(t, ts, toks[0], file)
	attachmentURL(t, ts, toks[0], attID, 60) // approved

	type ack struct {
		text string
		at   time.Time
	}
	var (
		mu    sync.Mutex
		acked []ack
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for i, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				text := fmt.Sprintf("chat %d message %d", i, n)
				_, err := pc.SendMessage(sendInput(tok, text))
				var ae awserr.Error
				if errors.As(err, &ae) && ae.Code() == "ThrottlingException" {
					time.Sleep(50 * time.Millisecond) // not acknowledged: it does not count
					continue
				}
				if err != nil {
					t.Errorf("SendMessage: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, ack{text, time.Now()})
				mu.Unlock()
			}
		}()
	}
	// The backup starts once enough is acknowledged to show anything: a
	// fixed wait is too short when the machine (or the race detector) is
	// slow.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
	}
	started := time.Now()
	dst := filepath.Join(t.TempDir(), "backup")
	m, err := server.Backup(context.Background(), ts.srv.Config(), dst)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if m.Attachments != 1 || len(m.Missing) != 0 {
		t.Errorf("backup copied %d attachments, missing %v; want 1 and none", m.Attachments, m.Missing)
	}
	want := map[string]bool{}
	for _, a := range acked {
		if a.at.Before(started) {
			want[a.text] = true
		}
	}
	if len(want) < 50 {
		t.Fatalf("only %d messages acknowledged before the backup: the load is too light to show anything", len(want))
	}

	// A changed byte is found before anything is restored.
	restoredDir := t.TempDir()
	cfg := func(dir string) *config.Config {
		c, err := config.Parse(nil, func(k string) string { return map[string]string{"PARLEY_DATA_DIR": dir}[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	db := filepath.Join(dst, "parley.db")
	orig, _ := os.ReadFile(db)
	os.WriteFile(db, append(bytes.Clone(orig[:len(orig)-1]), orig[len(orig)-1]^1), 0o600)
	if _, err := server.Restore(context.Background(), cfg(restoredDir), dst); err == nil {
		t.Fatal("a backup with a changed byte was restored")
	}
	if _, err := os.Stat(filepath.Join(restoredDir, "parley.db")); err == nil {
		t.Fatal("a failed restore wrote a database")
	}
	os.WriteFile(db, orig, 0o600)
	if _, err := server.Restore(context.Background(), cfg(restoredDir), dst); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if _, err := server.Restore(context.Background(), cfg(restoredDir), dst); err == nil {
		t.Error("a restore over an existing database succeeded")
	}

	restored := startServerIn(t, restoredDir)
	rpc := restored.participantClient()
	seen := map[string]int{}
	for _, tok := range toks { // the tokens are in the restored database
		var next *string
		for {
			out, err := rpc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok), MaxResults: v1aws.Int64(100), NextToken: next})
			if err != nil {
				t.Fatalf("GetTranscript on the restored server: %v", err)
			}
			for _, it := range out.Transcript {
				if it.Content != nil {
					seen[*it.Content]++
				}
			}
			if out.NextToken == nil {
				break
			}
			next = out.NextToken
		}
	}
	for text := range want {
		if seen[text] != 1 {
			t.Errorf("%q, acknowledged before the backup started, is in the restored transcript %d times", text, seen[text])
		}
	}
	t.Logf("%d messages acknowledged before the backup, %d in all; %d restored", len(want), len(acked), len(seen))
	u := attachmentURL(t, restored, toks[0], attID, 60)
	resp, body := rawRequest(t, "GET", u, nil, "")
	if resp.StatusCode != 200 || !bytes.Equal(body, file.Data) {
		t.Errorf("the restored attachment: %d, %d bytes", resp.StatusCode, len(body))
	}
}
