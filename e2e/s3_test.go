package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/testfiles"
)

// TestAttachmentsInS3 runs attachments through ChatJS on a server whose
// bytes live in S3 (versitygw), streamed through Parley: files of every
// kind and one of several multipart parts arrive, are checked, download
// byte for byte (whole and by range); rejected ones are deleted from the
// bucket; and nothing lands in the data dir.
func TestAttachmentsInS3(t *testing.T) {
	gw := testfiles.Versitygw(t)
	bucket := gw.NewBucket(t)
	gw.Setenv(t)
	dataDir := t.TempDir()
	ts := startServerIn(t, dataDir, append(withClamd(t),
		"PARLEY_S3_BUCKET", bucket, "PARLEY_S3_PREFIX", "chat", "PARLEY_S3_PATH_STYLE", "true")...)
	_, customer, agent := startConversation(t, ts)

	big := make([]byte, 11<<20) // three parts of a multipart upload
	rand.Read(big)
	files := append(testfiles.All(), testfiles.File{Name: "big.bin.pdf", Type: "application/pdf", Data: append([]byte("%PDF-1.4\n"), big...)})
	approved := map[string]bool{}
	var bigID string
	for _, f := range files {
		if err := sendFile(customer, f); err != nil {
			t.Fatalf("sendAttachment %s: %v", f.Name, err)
		}
		a := attachmentItem(agent, f.Name, "APPROVED")
		id := a["AttachmentId"].(string)
		approved["chat/"+id] = true
		if got := download(t, agent, id); !bytes.Equal(got, f.Data) {
			t.Errorf("%s: downloaded %d bytes, not the %d sent", f.Name, len(got), len(f.Data))
		}
		if f.Name == "big.bin.pdf" {
			bigID = id
		}
	}
	if err := sendFile(customer, testfiles.File{Name: "eicar.txt", Type: "text/plain", Data: testfiles.EICAR()}); err != nil {
		t.Fatal(err)
	}
	attachmentItem(agent, "eicar.txt", "REJECTED")

	// A range of the large file, as a resumed download asks for it.
	var u string
	jsonUnmarshal(t, agent.mustCall("getAttachmentURL", map[string]string{"attachmentId": bigID}), &u)
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Range", "bytes=6000000-6000099")
	resp, body := send(t, req)
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, files[len(files)-1].Data[6000000:6000100]) {
		t.Errorf("range download: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, h := range []string{"X-Content-Type-Options", "Content-Security-Policy", "Content-Disposition"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("a download from S3 lacks %s", h)
		}
	}

	// The bucket holds exactly the approved files; the data dir none.
	out, err := gw.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys, want []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	for k := range approved {
		want = append(want, k)
	}
	sort.Strings(keys)
	sort.Strings(want)
	equal(t, "objects in the bucket", strings.Join(keys, " "), strings.Join(want, " "))
	filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(path, "attachments") {
			t.Errorf("attachment bytes in the data dir: %s", path)
		}
		return nil
	})
}

// TestAttachmentsDirectToS3 runs attachments through ChatJS with
// PARLEY_S3_DIRECT=on: StartAttachmentUpload hands out a presigned S3 PUT,
// ChatJS puts the bytes straight into the bucket, Complete checks the object
// and the checks run on it; downloads are presigned GETs with Parley's
// Content-Disposition. A rejected object is deleted.
func TestAttachmentsDirectToS3(t *testing.T) {
	gw := testfiles.Versitygw(t)
	bucket := gw.NewBucket(t)
	gw.Setenv(t)
	ts := startServerIn(t, t.TempDir(), append(withClamd(t),
		"PARLEY_S3_BUCKET", bucket, "PARLEY_S3_PATH_STYLE", "true", "PARLEY_S3_DIRECT", "on")...)
	chat, customer, agent := startConversation(t, ts)

	// The upload URL is S3's, with the headers Connect gives.
	start, err := ts.participantClient().StartAttachmentUpload(&cp.StartAttachmentUploadInput{
		ConnectionToken: v1aws.String(ts.connectionToken(t, chat.ParticipantToken)), AttachmentName: v1aws.String("a.txt"),
		ContentType: v1aws.String("text/plain"), AttachmentSizeInBytes: v1aws.Int64(5), ClientToken: v1aws.String("direct-1")})
	if err != nil {
		t.Fatal(err)
	}
	if u := *start.UploadMetadata.Url; !strings.HasPrefix(u, gw.Endpoint+"/"+bucket+"/") || !strings.Contains(u, "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match") {
		t.Errorf("upload URL: %s", u)
	}
	equal(t, "HeadersToInclude", fmt.Sprint(v1aws.StringValueMap(start.UploadMetadata.HeadersToInclude)),
		fmt.Sprint(map[string]string{"Content-Length": "5", "Content-Type": "text/plain", "If-None-Match": "*"}))

	f := testfiles.All()[0]
	if err := sendFile(customer, f); err != nil {
		t.Fatalf("sendAttachment %s: %v", f.Name, err)
	}
	a := attachmentItem(agent, f.Name, "APPROVED")
	id := a["AttachmentId"].(string)
	var u string
	jsonUnmarshal(t, agent.mustCall("getAttachmentURL", map[string]string{"attachmentId": id}), &u)
	if !strings.HasPrefix(u, gw.Endpoint+"/"+bucket+"/"+id) || !strings.Contains(u, "response-content-disposition=") {
		t.Errorf("GetAttachment URL is not a presigned S3 GET with a disposition: %s", u)
	}
	resp, body := rawRequest(t, "GET", u, nil, "")
	if resp.StatusCode != 200 || !bytes.Equal(body, f.Data) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("presigned download: %d, %d bytes, disposition %q", resp.StatusCode, len(body), resp.Header.Get("Content-Disposition"))
	}
	if got := download(t, customer, id); !bytes.Equal(got, f.Data) {
		t.Errorf("ChatJS downloadAttachment: %d bytes, not the %d sent", len(got), len(f.Data))
	}

	if err := sendFile(customer, testfiles.File{Name: "eicar.txt", Type: "text/plain", Data: testfiles.EICAR()}); err != nil {
		t.Fatal(err)
	}
	rejected := attachmentItem(agent, "eicar.txt", "REJECTED")
	// Its bytes are gone; an empty object keeps the key taken, so that the
	// upload URL, valid for a while yet, cannot write them back.
	if info, err := os.Stat(filepath.Join(gw.Dir, bucket, rejected["AttachmentId"].(string))); err != nil || info.Size() != 0 {
		t.Errorf("a rejected object's bytes are still in the bucket: %v %v", info, err)
	}
	tok := ts.connectionToken(t, chat.ParticipantToken)
	eicar := string(testfiles.EICAR())
	again, err := ts.participantClient().StartAttachmentUpload(&cp.StartAttachmentUploadInput{
		ConnectionToken: v1aws.String(tok), AttachmentName: v1aws.String("again.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(eicar))), ClientToken: v1aws.String("direct-again")})
	if err != nil {
		t.Fatal(err)
	}
	headers := v1aws.StringValueMap(again.UploadMetadata.HeadersToInclude)
	if resp, body := put(t, *again.UploadMetadata.Url, headers, strings.NewReader(eicar)); resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if _, err := ts.participantClient().CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*again.AttachmentId}), ClientToken: v1aws.String("direct-again-complete")}); err != nil {
		t.Fatal(err)
	}
	attachmentItem(agent, "again.txt", "REJECTED")
	if resp, _ := put(t, *again.UploadMetadata.Url, headers, strings.NewReader(eicar)); resp.StatusCode == 200 {
		t.Error("the upload URL of a rejected file wrote its bytes again")
	}
	if info, err := os.Stat(filepath.Join(gw.Dir, bucket, *again.AttachmentId)); err != nil || info.Size() != 0 {
		t.Errorf("after a second PUT the rejected object holds %v %v", info, err)
	}
	if _, err := os.Stat(filepath.Join(gw.Dir, bucket, id)); err != nil {
		t.Errorf("the approved object is not in the bucket: %v", err)
	}
}

// TestS3StartupChecks: a missing bucket stops the server at start, saying
// why.
func TestS3StartupChecks(t *testing.T) {
	gw := testfiles.Versitygw(t)
	gw.Setenv(t)
	env := map[string]string{
		"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": t.TempDir(),
		"PARLEY_S3_BUCKET": "no-such-bucket", "PARLEY_S3_PATH_STYLE": "true",
	}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("server.New with a missing bucket: %v", err)
	}
}
