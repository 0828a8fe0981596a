package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley/internal/testfiles"
)

// withClamd starts clamd with the EICAR signature for a test and returns the
// server environment that points Parley at it.
func withClamd(t *testing.T) []string {
	return []string{"PARLEY_CLAMD", testfiles.Clamd(t)}
}

// attachmentItem waits for an ATTACHMENT item about a file name and returns
// its attachment.
func attachmentItem(p *peer, name string, status string) map[string]any {
	p.t.Helper()
	ev := p.waitFor(fmt.Sprintf("ATTACHMENT %s %s", name, status), 30*time.Second, func(ev peerEvent) bool {
		if ev.Event != "onMessage" || ev.Data["Type"] != "ATTACHMENT" {
			return false
		}
		a := firstAttachment(ev.Data)
		return a != nil && a["AttachmentName"] == name && a["Status"] == status
	})
	return firstAttachment(ev.Data)
}

func firstAttachment(item map[string]any) map[string]any {
	atts, _ := item["Attachments"].([]any)
	if len(atts) == 0 {
		return nil
	}
	a, _ := atts[0].(map[string]any)
	return a
}

func sendFile(p *peer, f testfiles.File) error {
	_, err := p.call("sendAttachment", map[string]string{"name": f.Name, "type": f.Type, "base64": base64.StdEncoding.EncodeToString(f.Data)})
	return err
}

type downloaded struct {
	Type   string
	Size   int
	Base64 string
}

func download(t *testing.T, p *peer, attachmentID string) []byte {
	t.Helper()
	res := p.mustCall("downloadAttachment", map[string]string{"attachmentId": attachmentID})
	var d downloaded
	json.Unmarshal(res, &d)
	b, _ := base64.StdEncoding.DecodeString(d.Base64)
	return b
}

// blobFiles lists the attachment bytes on disk, and what is left in tmp.
func blobFiles(t *testing.T, dataDir string) (blobs, tmp []string) {
	t.Helper()
	root := filepath.Join(dataDir, "attachments")
	filepath.WalkDir(filepath.Join(root, "blobs"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blobs = append(blobs, filepath.Base(path))
		}
		return nil
	})
	entries, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range entries {
		tmp = append(tmp, e.Name())
	}
	return blobs, tmp
}

func TestChatJSAttachmentsOfEveryKind(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	_, customer, agent := startConversation(t, ts)
	for _, f := range testfiles.All() {
		if err := sendFile(customer, f); err != nil {
			t.Fatalf("sendAttachment %s: %v", f.Name, err)
		}
		var id string
		for _, p := range []*peer{agent, customer} {
			a := attachmentItem(p, f.Name, "APPROVED")
			id = a["AttachmentId"].(string)
			equal(t, f.Name+" ContentType", a["ContentType"], any(f.Type))
		}
		got := download(t, agent, id)
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s: downloaded %d bytes, not the %d sent", f.Name, len(got), len(f.Data))
		}
	}
	// getAttachmentURL, as ChatJS 3.1.2+ offers, gives a URL that serves the file.
	f := testfiles.All()[0]
	sendFile(agent, f)
	a := attachmentItem(customer, f.Name, "APPROVED")
	res := customer.mustCall("getAttachmentURL", map[string]string{"attachmentId": a["AttachmentId"].(string)})
	var url string
	json.Unmarshal(res, &url)
	resp, body := rawRequest(t, "GET", url, nil, "")
	if resp.StatusCode != 200 || !bytes.Equal(body, f.Data) {
		t.Errorf("getAttachmentURL: %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestChatJSRefusedAndRejectedAttachments(t *testing.T) {
	t.Parallel()
	ts := startServerIn(t, t.TempDir(), withClamd(t)...)
	_, customer, agent := startConversation(t, ts)

	// Let the instance take zip files (so that EICAR can arrive zipped) and
	// cap the size at 64 KB, over the Connect API.
	exts := []ctypes.AllowedExtension{}
	for _, e := range []string{"txt", "pdf", "png", "zip"} {
		exts = append(exts, ctypes.AllowedExtension{Extension: aws.String(e)})
	}
	_, err := ts.connectClient().UpdateAttachedFilesConfiguration(context.Background(), &connect.UpdateAttachedFilesConfigurationInput{
		InstanceId: aws.String(ts.InstanceID), AttachmentScope: ctypes.AttachmentScopeChat,
		MaximumSizeLimitInBytes: aws.Int64(64 << 10),
		ExtensionConfiguration:  &ctypes.ExtensionConfiguration{AllowedExtensions: exts},
	})
	if err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		file testfiles.File
		want string
	}{
		{testfiles.File{Name: "big.txt", Type: "text/plain", Data: bytes.Repeat([]byte("a"), 64<<10+1)}, "ServiceQuotaExceededException"},
		{testfiles.File{Name: "setup.exe", Type: "application/vnd.microsoft.portable-executable", Data: testfiles.ELF()}, "ValidationException"},
		{testfiles.File{Name: "photo.png", Type: "text/html", Data: testfiles.PNG(4, 4)}, "ValidationException"},
	}
	for _, r := range refused {
		err := sendFile(customer, r.file)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: sendAttachment = %v, want %s", r.file.Name, err, r.want)
		}
	}

	rejected := []testfiles.File{
		{Name: "report.pdf", Type: "application/pdf", Data: testfiles.ELF()}, // an executable renamed
		{Name: "eicar.txt", Type: "text/plain", Data: testfiles.EICAR()},     // malware, plain
		{Name: "archive.zip", Type: "application/zip", Data: testfiles.Zip(map[string][]byte{ // malware, zipped
			"readme.txt": []byte("see attached"), "eicar.com": testfiles.EICAR()}, "readme.txt", "eicar.com")},
		{Name: "bomb.png", Type: "image/png", Data: testfiles.PNGBomb(60000, 60000)}, // decompression bomb
	}
	for _, f := range rejected {
		if err := sendFile(customer, f); err != nil {
			t.Fatalf("sendAttachment %s: %v", f.Name, err)
		}
		a := attachmentItem(agent, f.Name, "REJECTED")
		attachmentItem(customer, f.Name, "REJECTED")
		// The reason is given to whoever asks for the file.
		_, err := agent.call("getAttachmentURL", map[string]string{"attachmentId": a["AttachmentId"].(string)})
		if err == nil || !strings.Contains(err.Error(), "rejected") {
			t.Errorf("%s: getAttachmentURL = %v, want the rejection", f.Name, err)
		}
	}
	// A clean zip passes the same pipeline.
	clean := testfiles.File{Name: "docs.zip", Type: "application/zip", Data: testfiles.Zip(map[string][]byte{"a.txt": []byte("hello")}, "a.txt")}
	if err := sendFile(customer, clean); err != nil {
		t.Fatal(err)
	}
	attachmentItem(agent, clean.Name, "APPROVED")

	// Nothing of the refused or rejected files is left: only the clean zip.
	blobs, tmp := blobFiles(t, ts.DataDir)
	if len(blobs) != 1 || len(tmp) != 0 {
		t.Errorf("files left on disk: blobs %v, tmp %v; want only the approved zip", blobs, tmp)
	}
	// The transcript holds the final state of each.
	res := agent.mustCall("getTranscript", map[string]any{"maxResults": 100})
	var page struct {
		Data struct{ Transcript []map[string]any }
	}
	json.Unmarshal(res, &page)
	statuses := map[string]string{}
	for _, it := range page.Data.Transcript {
		if a := firstAttachment(it); a != nil {
			if _, dup := statuses[a["AttachmentName"].(string)]; dup {
				t.Errorf("%s appears twice in the transcript", a["AttachmentName"])
			}
			statuses[a["AttachmentName"].(string)] = a["Status"].(string)
		}
	}
	want := map[string]string{"report.pdf": "REJECTED", "eicar.txt": "REJECTED", "archive.zip": "REJECTED", "bomb.png": "REJECTED", "docs.zip": "APPROVED"}
	equal(t, "transcript attachment statuses", fmt.Sprint(statuses), fmt.Sprint(want))
}
