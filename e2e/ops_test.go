package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/audit"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/testfiles"
)

// adminRequest sends a request to the admin API signed with the Connect
// keys, as curl --aws-sigv4 or any SigV4 client would.
func adminRequest(t *testing.T, ts *testServer, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "connect", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

// readArchive opens a zip and verifies it.
func readArchive(t *testing.T, b []byte) (map[string][]byte, audit.Report) {
	t.Helper()
	rep, err := audit.Verify(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the archive does not verify: %v", err)
	}
	z, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	entries := map[string][]byte{}
	for _, f := range z.File {
		r, _ := f.Open()
		entries[f.Name], _ = io.ReadAll(r)
		r.Close()
	}
	return entries, rep
}

// TestExportForAudit exports a chat with messages, attributes and an
// attachment, over HTTP (SigV4) and from the command line's function, and
// verifies the archives; a changed byte fails verification.
func TestExportForAudit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	in := startInput(ts)
	in.Attributes = map[string]string{"orderId": "A-1001"}
	in.CustomerId = aws.String("cust-42")
	out, err := ts.connectClient().StartChatContact(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	contactID := *out.ContactId
	tok := ts.connectionToken(t, *out.ParticipantToken)
	pc := ts.participantClient()
	for _, text := range []string{"Where is my parcel?", "It left yesterday."} {
		if _, err := pc.SendMessage(sendInput(tok, text)); err != nil {
			t.Fatal(err)
		}
	}
	file := testfiles.All()[0]
	attID := upload(t, ts, tok, file)
	attachmentURL(t, ts, tok, attID, 60)

	resp, body := adminRequest(t, ts, "GET", "/admin/v1/export?ContactId="+contactID, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	entries, rep := readArchive(t, body)
	if rep.Contacts != 1 || rep.Attachments != 1 {
		t.Errorf("report %+v", rep)
	}
	dir := "contacts/" + contactID + "/"
	var tr audit.Transcript
	jsonUnmarshal(t, entries[dir+"transcript.json"], &tr)
	var texts []string
	for _, it := range tr.Transcript {
		if it.Type == "MESSAGE" {
			texts = append(texts, it.Content)
		}
	}
	equal(t, "exported messages", strings.Join(texts, "|"), "Where is my parcel?|It left yesterday.")
	var c audit.Contact
	jsonUnmarshal(t, entries[dir+"contact.json"], &c)
	if c.Attributes["orderId"] != "A-1001" || c.CustomerId != "cust-42" || c.CreatedAt == "" || len(c.Participants) != 1 {
		t.Errorf("contact.json: %+v", c)
	}
	var atts []audit.Attachment
	jsonUnmarshal(t, entries[dir+"attachments.json"], &atts)
	if len(atts) != 1 || atts[0].State != "APPROVED" || atts[0].SHA256 != sha256Hex(string(file.Data)) || !bytes.Equal(entries[atts[0].Entry], file.Data) {
		t.Errorf("attachments.json: %+v", atts)
	}

	// A changed byte anywhere is found.
	path := filepath.Join(t.TempDir(), "export.zip")
	os.WriteFile(path, body, 0o600)
	tamper(t, path, dir+"transcript.json")
	bad, _ := os.ReadFile(path)
	if _, err := audit.Verify(bytes.NewReader(bad), int64(len(bad))); err == nil {
		t.Error("an archive with a changed transcript verifies")
	}

	// A period, from the command line's function; the chat must have ended.
	if _, err := ts.connectClient().StopContact(context.Background(), stopInput(ts, contactID)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	after := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if _, err := server.Export(context.Background(), ts.srv.Config(), &buf, "", after, ""); err != nil {
		t.Fatal(err)
	}
	if _, rep := readArchive(t, buf.Bytes()); rep.Contacts != 1 {
		t.Errorf("the period's export holds %d contacts, want 1", rep.Contacts)
	}
	// A persistent chat continuing it brings it along: the chain, oldest
	// first, each contact once.
	next := ts.startChat(t, persistent(ctypes.RehydrationTypeEntirePastSession, contactID))
	resp, body = adminRequest(t, ts, "GET", "/admin/v1/export?ContactId="+next.ContactID, "")
	if resp.StatusCode != 200 {
		t.Fatalf("export of a persistent chat: %d %s", resp.StatusCode, body)
	}
	entries, rep = readArchive(t, body)
	if rep.Contacts != 2 {
		t.Errorf("a persistent chat's export holds %d contacts, want it and the one it continues", rep.Contacts)
	}
	var nc audit.Contact
	jsonUnmarshal(t, entries["contacts/"+next.ContactID+"/contact.json"], &nc)
	if nc.ContinuedFromContactId != contactID || len(nc.Chain) != 1 || nc.Chain[0] != contactID {
		t.Errorf("the persistent chat's contact.json: continued from %q, chain %v; want %s", nc.ContinuedFromContactId, nc.Chain, contactID)
	}
	if _, ok := entries[dir+"transcript.json"]; !ok {
		t.Error("the continued chat's transcript is not in the archive")
	}
	for _, q := range []string{"", "?ContactId=x&EndedAfter=" + after, "?EndedAfter=yesterday"} {
		if resp, _ := adminRequest(t, ts, "GET", "/admin/v1/export"+q, ""); resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidParameterException" {
			t.Errorf("export%s: %d %s", q, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}
	if resp, _ := adminRequest(t, ts, "GET", "/admin/v1/export?ContactId=nope", ""); resp.StatusCode != 404 {
		t.Errorf("export of an unknown contact: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/admin/v1/export?ContactId="+contactID, nil)
	if resp, _ := send(t, req); resp.StatusCode != 403 {
		t.Errorf("an unsigned export: %d", resp.StatusCode)
	}
}

// TestEraseWhileServing erases a live chat through the admin API: its socket
// gets chat.ended and closes, no token of it works any more, and nothing of
// it can be read back through any API or from the data dir's files.
func TestEraseWhileServing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	agent := ts.addAgent(t, chat.ContactID)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	const secretText = "my card number is 4111-1111-1111-1111"
	if _, err := pc.SendMessage(sendInput(tok, secretText)); err != nil {
		t.Fatal(err)
	}
	file := testfiles.File{Name: "passport-scan.txt", Type: "text/plain", Data: []byte("PASSPORT X1234567 of Ada Lovelace")}
	attID := upload(t, ts, tok, file)
	dl := attachmentURL(t, ts, tok, attID, 300)
	ws := dialChat(t, ts, agent.ParticipantToken)

	resp, body := adminRequest(t, ts, "POST", "/admin/v1/contacts/"+chat.ContactID+"/erase", `{"Reason":"GDPR request 42"}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "GDPR request 42") {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	// The socket hears the end and is closed.
	sawEnd := false
	for {
		f, err := ws.read(5 * time.Second)
		if err != nil {
			break
		}
		if f.Topic == "aws/chat" && strings.Contains(string(f.Content), "chat.ended") {
			sawEnd = true
		}
	}
	if !sawEnd {
		t.Error("the erased chat's socket did not get chat.ended")
	}
	// No token works; nothing reads back.
	if _, err := pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)}); err == nil {
		t.Error("GetTranscript works with an erased chat's connection token")
	}
	if _, err := pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{ParticipantToken: v1aws.String(agent.ParticipantToken),
		Type: v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"})}); err == nil {
		t.Error("CreateParticipantConnection works with an erased chat's participant token")
	}
	if resp, _ := rawRequest(t, "GET", dl, nil, ""); resp.StatusCode == 200 {
		t.Error("the erased attachment still downloads")
	}
	var nf *ctypes.ResourceNotFoundException
	if _, err := ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}); !errors.As(err, &nf) {
		t.Errorf("DescribeContact of an erased contact: %v", err)
	}
	if resp, _ := adminRequest(t, ts, "GET", "/admin/v1/export?ContactId="+chat.ContactID, ""); resp.StatusCode != 404 {
		t.Errorf("export of an erased contact: %d", resp.StatusCode)
	}
	// Erasing again returns the same tombstone.
	if resp, body := adminRequest(t, ts, "POST", "/admin/v1/contacts/"+chat.ContactID+"/erase", `{"Reason":"again"}`); resp.StatusCode != 200 || !strings.Contains(string(body), "GDPR request 42") {
		t.Errorf("erase again: %d %s", resp.StatusCode, body)
	}
	// Nothing of it in the data dir's files: not the text, the file's
	// bytes, its name, or any token.
	needles := []string{secretText, string(file.Data), file.Name, attID}
	filepath.WalkDir(ts.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s still holds %q", path, n)
			}
		}
		return nil
	})
}

// TestOpsCommandLine runs export, export verify and erase as an operator
// does, with the built binary beside a running server: erase goes through
// the server when it answers, and to the database when none does.
func TestOpsCommandLine(t *testing.T) {
	ts := startServer(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(parleyBin, args...)
		cmd.Dir = t.TempDir() // not the data dir's folder: -data-dir must say it
		cmd.Env = append(os.Environ(), "PARLEY_ADDR="+strings.TrimPrefix(ts.URL, "http://"),
			"PARLEY_ACCESS_KEY_ID="+testAKID, "PARLEY_SECRET_ACCESS_KEY="+testSecret, "PARLEY_DATABASE_URL="+ts.DatabaseURL)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	a := ts.startChat(t, nil)
	b := ts.startChat(t, nil)
	archive := filepath.Join(t.TempDir(), "a.zip")
	out, err := run("export", "-contact-id", a.ContactID, "-o", archive, "-data-dir", ts.DataDir)
	if err != nil || !strings.Contains(out, ts.DataDir) {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if out, err := run("export", "verify", archive); err != nil || !strings.Contains(out, "verifies") {
		t.Fatalf("export verify: %v\n%s", err, out)
	}
	tamper(t, archive, "contacts/"+a.ContactID+"/contact.json")
	if out, err := run("export", "verify", archive); err == nil {
		t.Errorf("a changed archive verifies:\n%s", out)
	}
	if out, err := run("erase", "-contact-id", a.ContactID, "-reason", "asked", "-data-dir", ts.DataDir); err != nil || !strings.Contains(out, "by the running server") {
		t.Fatalf("erase: %v\n%s", err, out)
	}
	if _, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{ParticipantToken: v1aws.String(a.ParticipantToken),
		Type: v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"})}); err == nil {
		t.Error("a token of the erased contact works")
	}
	// No server at the address: the command erases in the database.
	cfg := *ts.srv.Config()
	cfg.Addr, cfg.PublicURL = "127.0.0.1:1", ""
	if _, via, err := server.Erase(context.Background(), &cfg, b.ContactID, "offline"); err != nil || via {
		t.Fatalf("offline erase: via server %v, %v", via, err)
	}
	if out, err := run("export", "-contact-id", b.ContactID, "-data-dir", ts.DataDir); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("export of an erased contact: %v\n%s", err, out)
	}
	// A command run against a data dir that does not exist says so, and
	// creates nothing.
	// erase included, though a server answers on the address: it used to
	// make the folder and a new identity before it looked.
	c := ts.startChat(t, nil)
	for _, args := range [][]string{
		{"agent", "add", "Grace"},
		{"erase", "-contact-id", c.ContactID},
		{"export", "-contact-id", c.ContactID, "-o", filepath.Join(t.TempDir(), "c.zip")},
	} {
		missing := filepath.Join(t.TempDir(), "nothing-here")
		out, err := run(append(args, "-data-dir", missing)...)
		if err == nil || !strings.Contains(out, "no data dir") {
			t.Errorf("%s in a missing data dir: %v\n%s", args[0], err, out)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("%s created a data dir", args[0])
		}
	}
	if _, err := ts.participantClient().CreateParticipantConnection(&cp.CreateParticipantConnectionInput{ParticipantToken: v1aws.String(c.ParticipantToken),
		Type: v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"})}); err != nil {
		t.Errorf("the contact an erase in a missing data dir named: %v", err)
	}
}

// tamper rewrites an archive with one entry's content changed, and the
// manifest as it was.
func tamper(t *testing.T, path, entry string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	changed := false
	for _, f := range z.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		r.Close()
		if f.Name == entry {
			b = bytes.Replace(b, []byte(`"`), []byte(`'`), 1)
			changed = true
		}
		e, _ := w.Create(f.Name)
		e.Write(b)
	}
	w.Close()
	if !changed {
		t.Fatalf("no entry %s", entry)
	}
	os.WriteFile(path, out.Bytes(), 0o600)
}

// TestServeSaysWhereTheCredentialsAre: the first start prints the generated
// Connect keys; every later start names the key id and where the pair is
// kept, rather than saying nothing.
func TestServeSaysWhereTheCredentialsAre(t *testing.T) {
	dir := t.TempDir()
	banner := func() string {
		t.Helper()
		cmd := exec.Command(parleyBin, "serve", "-addr", "127.0.0.1:0", "-data-dir", dir)
		cmd.Env = append(os.Environ(), "PARLEY_ACCESS_KEY_ID=", "PARLEY_SECRET_ACCESS_KEY=")
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
		stuck := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() }) // a banner that never says it ends the read
		defer stuck.Stop()
		var b strings.Builder
		buf := make([]byte, 4096)
		done := func(s string) bool {
			return strings.Contains(s, "AWS_SECRET_ACCESS_KEY=") || strings.Contains(s, "access key id:")
		}
		for !done(b.String()) {
			n, err := out.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return b.String()
	}
	first := banner()
	if !strings.Contains(first, "export AWS_SECRET_ACCESS_KEY=") {
		t.Fatalf("the first start does not print the generated keys:\n%s", first)
	}
	second := banner()
	if !strings.Contains(second, "Connect API access key id:") || !strings.Contains(second, filepath.Join(dir, "identity.json")) {
		t.Errorf("a later start does not say where the keys are:\n%s", second)
	}
}
