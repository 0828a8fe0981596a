package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/testfiles"
)

// TestClusterUploadOfAKilledNodeIsRetried: two nodes on one PostgreSQL,
// S3 and NATS. Node 1 receives an upload whose client stalls; the URL's
// retry through node 2 is refused (409) while node 1 lives, past the claim's
// lease, which node 1 renews. Node 1 is killed (SIGKILL) mid-upload: the
// retry through node 2 is received once node 1's claim runs out, not
// refused until the URL expires, and the attachment completes and
// downloads whole.
func TestClusterUploadOfAKilledNodeIsRetried(t *testing.T) {
	gw := testfiles.Versitygw(t)
	bucket := gw.NewBucket(t)
	gw.Setenv(t)
	const lease = 3 * time.Second
	lb := startBalancer(t)
	db := pgtest.NewDatabase(t)
	natsURL := testfiles.NATSProcess(t)
	var procs []*process
	var urls []string
	for i := range 2 {
		p := startNode(t, t.TempDir(), "PARLEY_DATABASE_URL="+db, "PARLEY_NATS_URL="+natsURL, "PARLEY_PUBLIC_URL="+lb.URL,
			fmt.Sprint("PARLEY_NODE_ID=node", i+1), "PARLEY_S3_BUCKET="+bucket, "PARLEY_S3_PATH_STYLE=true",
			"PARLEY_UPLOAD_LEASE="+lease.String())
		procs = append(procs, p)
		urls = append(urls, p.url)
	}
	lb.set(urls...)
	ts := &testServer{URL: lb.URL, InstanceID: "test-instance"}
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	data := strings.Repeat("a line of the notes a dead node cut short\n", 400)
	up := must[*cp.StartAttachmentUploadOutput](t)(pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("notes.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(data))), ClientToken: v1aws.String("notes")}))
	path := strings.TrimPrefix(*up.UploadMetadata.Url, lb.URL)

	pg, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	state := func() string {
		var s string
		if err := pg.QueryRow(context.Background(), `SELECT state FROM files WHERE id = $1`, *up.AttachmentId).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// The client's first PUT, through node 1, stalls after 100 bytes.
	c, err := dialFrom(context.Background(), "127.0.0.1", urls[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", path, len(data), data[:100])
	for deadline := time.Now().Add(10 * time.Second); state() != "RECEIVING"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node 1 never began receiving the upload")
		}
	}
	retry := func() (int, string) {
		req, _ := http.NewRequest("PUT", urls[1]+path, strings.NewReader(data))
		req.Header.Set("Content-Type", "text/plain")
		resp, body := send(t, req)
		return resp.StatusCode, string(body)
	}
	// Node 1 lives and renews its claim: past a lease, still refused.
	time.Sleep(lease + lease/2)
	if code, body := retry(); code != http.StatusConflict {
		t.Fatalf("the retry through node 2 while node 1 receives: %d %s, want 409", code, body)
	}

	procs[0].kill()
	lb.set(urls[1])
	start := time.Now()
	for {
		code, body := retry()
		if code == http.StatusOK {
			break
		}
		if code != http.StatusConflict {
			t.Fatalf("the retry through node 2 after node 1 died: %d %s", code, body)
		}
		if time.Since(start) > 3*lease {
			t.Fatalf("the retry is still refused %s after node 1 died: %d %s", time.Since(start), code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the retry was received %s after node 1 died", time.Since(start).Round(time.Millisecond))
	if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*up.AttachmentId}), ClientToken: v1aws.String("done")}); err != nil {
		t.Fatalf("CompleteAttachmentUpload after the retry: %v", err)
	}
	for deadline := time.Now().Add(15 * time.Second); state() != "APPROVED"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the attachment is %s, not APPROVED", state())
		}
	}
	got := must[*cp.GetAttachmentOutput](t)(pc.GetAttachment(&cp.GetAttachmentInput{ConnectionToken: v1aws.String(tok), AttachmentId: up.AttachmentId}))
	resp, body := rawRequest(t, "GET", *got.Url, nil, "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, []byte(data)) {
		t.Errorf("the download: %d, %d bytes of %d", resp.StatusCode, len(body), len(data))
	}
}
