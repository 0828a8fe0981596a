package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/testfiles"
)

// upload runs the three steps ChatJS runs, with the official Go client and a
// plain PUT, and returns the attachment id.
func upload(t *testing.T, ts *testServer, tok string, f testfiles.File) string {
	t.Helper()
	pc := ts.participantClient()
	start, err := pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String(f.Name), ContentType: v1aws.String(f.Type),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(f.Data))), ClientToken: v1aws.String("start-" + f.Name)})
	if err != nil {
		t.Fatalf("StartAttachmentUpload %q: %v", f.Name, err)
	}
	resp, body := put(t, *start.UploadMetadata.Url, v1aws.StringValueMap(start.UploadMetadata.HeadersToInclude), strings.NewReader(string(f.Data)))
	if resp.StatusCode != 200 {
		t.Fatalf("PUT %q: %d %s", f.Name, resp.StatusCode, body)
	}
	if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*start.AttachmentId}), ClientToken: v1aws.String("complete-" + f.Name)}); err != nil {
		t.Fatalf("CompleteAttachmentUpload %q: %v", f.Name, err)
	}
	return *start.AttachmentId
}

func put(t *testing.T, u string, headers map[string]string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", u, body)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, b := send(t, req)
	return resp, string(b)
}

// attachmentURL waits for the verdict and returns a download URL.
func attachmentURL(t *testing.T, ts *testServer, tok, id string, expiry int64) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var out struct{ Url string }
		resp, body := rawRequest(t, "POST", ts.URL+"/participant/attachment", map[string]string{"X-Amz-Bearer": tok},
			fmt.Sprintf(`{"AttachmentId":%q,"UrlExpiryInSeconds":%d}`, id, expiry))
		if resp.StatusCode == 200 {
			jsonUnmarshal(t, body, &out)
			return out.Url
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetAttachment %s: %d %s", id, resp.StatusCode, body)
		}
	}
}

func TestAttachmentAccessAndURLs(t *testing.T) {
	ts := startServer(t)
	_, _, custTok, agentTok := ts.withAgent(t)
	_, _, otherTok, _ := ts.withAgent(t)
	f := testfiles.File{Name: "invoice.pdf", Type: "application/pdf", Data: testfiles.PDF("Invoice 7")}
	id := upload(t, ts, custTok, f)
	u := attachmentURL(t, ts, agentTok, id, 60)

	// A participant of another chat gets AccessDenied.
	_, err := ts.participantClient().GetAttachment(&cp.GetAttachmentInput{ConnectionToken: v1aws.String(otherTok), AttachmentId: v1aws.String(id)})
	wantCode(t, "another chat's attachment", err, "AccessDeniedException", http.StatusForbidden)

	// The download: exact bytes and the protective headers.
	resp, body := rawRequest(t, "GET", u, map[string]string{"Origin": "https://shop.example"}, "")
	sum := sha256.Sum256(f.Data)
	equal(t, "status", resp.StatusCode, 200)
	equal(t, "body", body == nil || string(body) == string(f.Data), true)
	for h, want := range map[string]string{
		"Content-Type":                "application/pdf",
		"ETag":                        `"` + hex.EncodeToString(sum[:]) + `"`,
		"Content-Disposition":         `attachment; filename="invoice.pdf"; filename*=UTF-8''invoice.pdf`,
		"X-Content-Type-Options":      "nosniff",
		"Content-Security-Policy":     "default-src 'none'; sandbox",
		"Access-Control-Allow-Origin": "*",
	} {
		equal(t, h, resp.Header.Get(h), want)
	}
	// Range requests, and revalidation by ETag.
	resp, body = rawRequest(t, "GET", u, map[string]string{"Range": "bytes=5-14"}, "")
	equal(t, "range status", resp.StatusCode, http.StatusPartialContent)
	equal(t, "range bytes", string(body), string(f.Data[5:15]))
	resp, _ = rawRequest(t, "GET", u, map[string]string{"If-None-Match": resp.Header.Get("ETag")}, "")
	equal(t, "If-None-Match status", resp.StatusCode, http.StatusNotModified)

	// A tampered URL, one for another attachment, and an expired one fail.
	parsed, _ := url.Parse(u)
	tok := parsed.Query().Get("token")
	tampered := strings.Replace(u, url.QueryEscape(tok), url.QueryEscape(flip(tok, len(tok)/3)), 1)
	resp, _ = rawRequest(t, "GET", tampered, nil, "")
	equal(t, "tampered URL", resp.StatusCode, http.StatusForbidden)
	id2 := upload(t, ts, custTok, testfiles.File{Name: "b.txt", Type: "text/plain", Data: []byte("second file")})
	resp, _ = rawRequest(t, "GET", strings.Replace(u, id, id2, 1), nil, "")
	equal(t, "URL moved to another attachment", resp.StatusCode, http.StatusForbidden)
	short := attachmentURL(t, ts, agentTok, id, 5)
	time.Sleep(5100 * time.Millisecond)
	resp, _ = rawRequest(t, "GET", short, nil, "")
	equal(t, "expired URL", resp.StatusCode, http.StatusForbidden)
}

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestUploadURLRules(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	start := func(name string, size int) *cp.StartAttachmentUploadOutput {
		out, err := pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
			AttachmentName: v1aws.String(name), ContentType: v1aws.String("text/plain"),
			AttachmentSizeInBytes: v1aws.Int64(int64(size)), ClientToken: v1aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hdr := map[string]string{"Content-Type": "text/plain"}

	// More bytes than declared: refused, nothing kept.
	s := start("a.txt", 10)
	resp, _ := put(t, *s.UploadMetadata.Url, hdr, strings.NewReader(strings.Repeat("x", 11)))
	equal(t, "too many bytes", resp.StatusCode, http.StatusRequestEntityTooLarge)
	// Fewer: refused too.
	resp, _ = put(t, *s.UploadMetadata.Url, hdr, strings.NewReader("short"))
	equal(t, "too few bytes", resp.StatusCode, http.StatusBadRequest)
	// Another Content-Type than signed.
	resp, _ = put(t, *s.UploadMetadata.Url, map[string]string{"Content-Type": "text/html"}, strings.NewReader(strings.Repeat("x", 10)))
	equal(t, "another Content-Type", resp.StatusCode, http.StatusForbidden)
	// Complete before a whole upload: the model's ConflictException.
	_, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*s.AttachmentId}), ClientToken: v1aws.String("early")})
	wantCode(t, "complete before upload", err, "ConflictException", http.StatusConflict)
	if blobs, tmp := blobFiles(t, ts.DataDir); len(blobs)+len(tmp) != 0 {
		t.Errorf("failed uploads left %v %v", blobs, tmp)
	}
	// The right bytes work once; the URL replayed is refused and stores nothing.
	resp, _ = put(t, *s.UploadMetadata.Url, hdr, strings.NewReader(strings.Repeat("x", 10)))
	equal(t, "exact upload", resp.StatusCode, 200)
	resp, _ = put(t, *s.UploadMetadata.Url, hdr, strings.NewReader(strings.Repeat("y", 10)))
	equal(t, "replayed URL", resp.StatusCode, http.StatusForbidden)
	if blobs, _ := blobFiles(t, ts.DataDir); len(blobs) != 1 {
		t.Errorf("blobs after a replay: %v", blobs)
	}
	// A forged URL.
	s2 := start("b.txt", 3)
	resp, _ = put(t, strings.Replace(*s2.UploadMetadata.Url, "token=", "token=x", 1), hdr, strings.NewReader("abc"))
	equal(t, "forged URL", resp.StatusCode, http.StatusForbidden)
	// CORS: the browser's preflight of the PUT.
	resp, _ = rawRequest(t, "OPTIONS", *s2.UploadMetadata.Url, map[string]string{"Origin": "https://shop.example",
		"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type"}, "")
	equal(t, "preflight", resp.StatusCode, http.StatusNoContent)
	equal(t, "preflight methods", strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT"), true)

	// The per-chat quota of 35: two so far, 33 more, then one too many.
	for i := range 33 {
		start(fmt.Sprintf("f%d.txt", i), 1)
	}
	_, err = pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("one-too-many.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(1), ClientToken: v1aws.String("36")})
	wantCode(t, "36th attachment", err, "ServiceQuotaExceededException", http.StatusPaymentRequired)
}

// TestAwkwardFileNames: names with quotes, slashes, "..", control characters
// and emoji are kept as given and served with a safe Content-Disposition.
func TestAwkwardFileNames(t *testing.T) {
	ts := startServer(t)
	_, _, custTok, agentTok := ts.withAgent(t)
	names := []string{`say "hi".txt`, `..\..\windows\win.ini.txt`, "../../etc/passwd.txt", "tab\there\r\nSet-Cookie: x=y.txt", "café 📎 ☕.txt", "%2e%2e%2fx.txt"}
	for _, name := range names {
		id := upload(t, ts, custTok, testfiles.File{Name: name, Type: "text/plain", Data: []byte("contents of " + name)})
		resp, body := rawRequest(t, "GET", attachmentURL(t, ts, agentTok, id, 60), nil, "")
		equal(t, name+" body", string(body), "contents of "+name)
		cd := resp.Header.Get("Content-Disposition")
		disp, params, err := mime.ParseMediaType(cd)
		if err != nil || disp != "attachment" {
			t.Errorf("%q: Content-Disposition %q: %v", name, cd, err)
			continue
		}
		if fn := params["filename"]; strings.ContainsAny(fn, "/\\\r\n\t") || strings.HasPrefix(fn, ".") {
			t.Errorf("%q: served as %q", name, fn)
		}
	}
	// The transcript keeps each name exactly.
	out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok), MaxResults: v1aws.Int64(100)})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string]bool{}
	for _, it := range out.Transcript {
		for _, a := range it.Attachments {
			kept[*a.AttachmentName] = true
		}
	}
	for _, name := range names {
		if !kept[name] {
			t.Errorf("transcript lost the name %q", name)
		}
	}
}

// slowClamd speaks clamd's INSTREAM protocol, answers OK, and takes its time.
func slowClamd(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				cmd, _ := r.ReadString(0)
				if cmd == "zPING\x00" {
					conn.Write([]byte("PONG\x00"))
					return
				}
				for {
					var n [4]byte
					if _, err := io.ReadFull(r, n[:]); err != nil {
						return
					}
					size := int(n[0])<<24 | int(n[1])<<16 | int(n[2])<<8 | int(n[3])
					if size == 0 {
						break
					}
					io.CopyN(io.Discard, r, int64(size))
				}
				time.Sleep(delay)
				conn.Write([]byte("stream: OK\x00"))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestSlowVerdictIsAnnouncedInProgressFirst: when the checks take longer than
// a second, an IN_PROGRESS item comes first and the verdict follows with the
// same AttachmentId; the transcript holds only the final state.
func TestSlowVerdictIsAnnouncedInProgressFirst(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLAMD", slowClamd(t, 4*time.Second))
	_, agent, custTok, agentTok := ts.withAgent(t)
	ws := dialChat(t, ts, agent.ParticipantToken)
	started := time.Now()
	id := upload(t, ts, custTok, testfiles.File{Name: "slow.txt", Type: "text/plain", Data: []byte("scanned slowly")})
	// A 4 s scan, so that a loaded machine's slow upload calls stay well
	// apart from a Complete that waited for the scan.
	if d := time.Since(started); d > 3*time.Second {
		t.Errorf("CompleteAttachmentUpload waited %v for a 4 s scan", d)
	}
	var statuses []string
	for len(statuses) < 2 {
		f, err := ws.read(10 * time.Second)
		if err != nil {
			t.Fatalf("after %v: %v", statuses, err)
		}
		if f.Topic != "aws/chat" {
			continue
		}
		it := f.item(t)
		if a := firstAttachment(it); a != nil {
			equal(t, "AttachmentId", a["AttachmentId"], any(id))
			statuses = append(statuses, a["Status"].(string))
		}
	}
	equal(t, "announcements", strings.Join(statuses, ","), "IN_PROGRESS,APPROVED")
	out, _ := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok)})
	n := 0
	for _, it := range out.Transcript {
		for _, a := range it.Attachments {
			n++
			equal(t, "transcript status", *a.Status, "APPROVED")
		}
	}
	equal(t, "attachment items in the transcript", n, 1)
}

// TestTextFilesAreServedAsText: a text file is downloaded as its
// extension's type whatever was declared, and markup (HTML, SVG) in a .txt
// or .csv file is REJECTED with a reason rather than served as a page.
func TestTextFilesAreServedAsText(t *testing.T) {
	ts := startServer(t)
	_, _, custTok, agentTok := ts.withAgent(t)
	for _, f := range []struct {
		testfiles.File
		serve string
	}{
		{testfiles.File{Name: "notes.txt", Type: "application/octet-stream", Data: []byte("plain notes <b>not a page</b>\n")}, "text/plain; charset=utf-8"},
		{testfiles.File{Name: "table.csv", Type: "application/vnd.ms-excel", Data: []byte("a,b\n1,2\n")}, "text/csv"},
	} {
		resp, body := rawRequest(t, "GET", attachmentURL(t, ts, agentTok, upload(t, ts, custTok, f.File), 60), nil, "")
		equal(t, f.Name+" body", string(body), string(f.Data))
		equal(t, f.Name+" Content-Type", resp.Header.Get("Content-Type"), f.serve)
	}
	for _, f := range []testfiles.File{
		{Name: "page.txt", Type: "text/plain", Data: []byte("<html><body><script>alert(document.domain)</script></body></html>")},
		{Name: "data.csv", Type: "text/csv", Data: []byte("<!DOCTYPE html><script>alert(1)</script>")},
		{Name: "pic.txt", Type: "application/octet-stream", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)},
	} {
		id := upload(t, ts, custTok, f)
		msg := rejection(t, ts, agentTok, id)
		if !strings.Contains(msg, "markup") {
			t.Errorf("%s: %q, want rejected as markup", f.Name, msg)
		}
	}
}

// rejection waits for an attachment's verdict and returns the
// ValidationException message GetAttachment gives for a rejected file.
func rejection(t *testing.T, ts *testServer, tok, id string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, body := rawRequest(t, "POST", ts.URL+"/participant/attachment", map[string]string{"X-Amz-Bearer": tok},
			fmt.Sprintf(`{"AttachmentId":%q}`, id))
		if strings.Contains(string(body), "rejected") {
			return string(body)
		}
		if resp.StatusCode == 200 || time.Now().After(deadline) {
			t.Fatalf("GetAttachment %s: %d %s, want a rejection", id, resp.StatusCode, body)
		}
	}
}

// TestBidiControlsLeaveFileNames: "invoice\u202efdp.txt" would show as
// "invoicetxt.pdf"; the transcript, the live item and the download carry
// the name without its bidirectional controls.
func TestBidiControlsLeaveFileNames(t *testing.T) {
	ts := startServer(t)
	_, _, custTok, agentTok := ts.withAgent(t)
	id := upload(t, ts, custTok, testfiles.File{Name: "invoice\u202efdp\u2066\u200f.txt", Type: "text/plain", Data: []byte("x")})
	resp, _ := rawRequest(t, "GET", attachmentURL(t, ts, agentTok, id, 60), nil, "")
	equal(t, "Content-Disposition", resp.Header.Get("Content-Disposition"),
		`attachment; filename="invoicefdp.txt"; filename*=UTF-8''invoicefdp.txt`)
	out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok), MaxResults: v1aws.Int64(100)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range out.Transcript {
		for _, a := range it.Attachments {
			names = append(names, *a.AttachmentName)
		}
	}
	if len(names) != 1 || names[0] != "invoicefdp.txt" {
		t.Errorf("transcript names %q, want [invoicefdp.txt]", names)
	}
}
