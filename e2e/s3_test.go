package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	for _, kv := range gw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
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
