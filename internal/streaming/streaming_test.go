package streaming

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseEndpoints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"arn:aws:sns:us-east-1:123456789012:chat=https://hooks.example/chat", 1, true},
		{"arn:aws:sns:us-east-1:1:a=https://x/a, arn:aws-cn:sns:cn-north-1:1:b=http://127.0.0.1:9/b", 2, true},
		{"arn:aws:sqs:us-east-1:1:a=https://x/a", 0, false},
		{"arn:aws:sns:us-east-1:1:a", 0, false},
		{"arn:aws:sns:us-east-1:1:a=ftp://x", 0, false},
		{"https://x/a", 0, false},
	} {
		got, err := ParseEndpoints(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("ParseEndpoints(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestSignedNotification: what Send posts verifies against the certificate
// the signer serves, and a changed field does not; the key survives a
// reload.
func TestSignedNotification(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "streaming-key.pem")
	signer, err := LoadSigner(keyPath, "http://parley.example")
	if err != nil {
		t.Fatal(err)
	}
	var got Notification
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got)
	}))
	defer srv.Close()
	arn := "arn:aws:sns:us-east-1:000000000000:chat"
	s := &Sender{Endpoints: map[string]string{arn: srv.URL}, Signer: signer}
	if err := s.Send(context.Background(), arn, "s/1", `{"Type":"MESSAGE"}`, map[string]string{"Type": "MESSAGE"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if header.Get("x-amz-sns-message-type") != "Notification" || got.SigningCertURL != "http://parley.example"+CertPath || got.MessageAttributes["Type"].Value != "MESSAGE" {
		t.Errorf("notification %+v, headers %v", got, header)
	}
	again, err := LoadSigner(keyPath, "http://parley.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(&got, again.certPEM); err != nil {
		t.Errorf("the signature does not verify with the reloaded key's certificate: %v", err)
	}
	for _, change := range []func(n *Notification){
		func(n *Notification) { n.Message += "x" },
		func(n *Notification) { n.MessageId = "s/2" },
		func(n *Notification) { n.Timestamp = "2000-01-01T00:00:00.000Z" },
		func(n *Notification) { n.TopicArn = "arn:aws:sns:us-east-1:000000000000:other" },
	} {
		n := got
		change(&n)
		if Verify(&n, signer.certPEM) == nil {
			t.Errorf("a changed notification verifies: %+v", n)
		}
	}
	if s.Configured("arn:aws:sns:us-east-1:000000000000:none") || !s.Configured(arn) || (*Sender)(nil).Configured(arn) {
		t.Error("Configured")
	}
}

// TestSignerStartsAfterACrashMidWrite: the key is made on first start; a
// crash (or a power loss before the file reached the disk) while it was
// written leaves an empty file, which is no key anyone used: the next
// start makes the key again instead of refusing to start for good.
func TestSignerStartsAfterACrashMidWrite(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "streaming-key.pem")
	if err := os.WriteFile(keyPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(keyPath, "http://parley.example")
	if err != nil {
		t.Fatalf("start after a crash mid-write: %v", err)
	}
	again, err := LoadSigner(keyPath, "http://parley.example")
	if err != nil {
		t.Fatal(err)
	}
	if !signer.key.Equal(again.key) {
		t.Error("the key made again was not kept")
	}
	if entries, _ := os.ReadDir(filepath.Dir(keyPath)); len(entries) != 1 {
		t.Errorf("the data dir holds %d files, want only the key", len(entries))
	}
}
