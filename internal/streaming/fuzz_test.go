package streaming

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseEndpoints: PARLEY_STREAMING_ENDPOINTS accepts only SNS topic
// ARNs mapped to http(s) URLs, and what it accepts reads back the same
// from its own ARN=URL form.
func FuzzParseEndpoints(f *testing.F) {
	for _, s := range []string{"", "arn:aws:sns:us-east-1:123456789012:chat=https://hooks.example/chat",
		"arn:aws:sns:us-east-1:1:a=https://x/a, arn:aws-cn:sns:cn-north-1:1:b=http://127.0.0.1:9/b",
		"arn:aws:sqs:us-east-1:1:a=https://x/a", "arn:aws:sns:us-east-1:1:a", "arn:aws:sns:us-east-1:1:a=ftp://x", "https://x/a",
		"arn:aws:sns:r:1:a=https://x/?q=1, ,arn:aws:sns:r:1:a=https://y/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := ParseEndpoints(v)
		if err != nil {
			return
		}
		var pairs []string
		for arn, url := range m {
			if !IsTopicARN(arn) || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) {
				t.Fatalf("%q: accepted %q=%q", v, arn, url)
			}
			pairs = append(pairs, arn+"="+url)
		}
		sort.Strings(pairs)
		again, err := ParseEndpoints(strings.Join(pairs, ","))
		if err != nil || len(again) != len(m) {
			t.Fatalf("%q: %v reads back as %v, %v", v, m, again, err)
		}
		for arn, url := range m {
			if again[arn] != url {
				t.Fatalf("%q: %v reads back as %v", v, m, again)
			}
		}
	})
}

// FuzzNotificationSignature: any notification Parley signs verifies, as
// a subscriber receives it (decoded from the posted JSON), against the
// certificate Parley serves; a changed Message, MessageId, Subject or
// TopicArn does not.
func FuzzNotificationSignature(f *testing.F) {
	signer, err := LoadSigner(filepath.Join(f.TempDir(), "key.pem"), "https://parley.example")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("s/1", "arn:aws:sns:us-east-1:000000000000:chat", "", `{"Type":"MESSAGE","Content":"hi"}`, "2026-11-30T01:02:03.456Z")
	f.Add("s/2", "arn:aws:sns:us-east-1:000000000000:chat", "subject", "line\nMessageId\nx", "t")
	f.Fuzz(func(t *testing.T, id, arn, subject, message, timestamp string) {
		for _, s := range []string{id, arn, subject, message, timestamp} {
			if !utf8.ValidString(s) {
				return // JSON carries text: Parley's messages are JSON it encoded
			}
		}
		n := &Notification{Type: "Notification", MessageId: id, TopicArn: arn, Subject: subject, Message: message, Timestamp: timestamp}
		if err := signer.Sign(n); err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var got Notification
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if err := Verify(&got, signer.certPEM); err != nil {
			t.Fatalf("%+v does not verify: %v", got, err)
		}
		for _, change := range []func(*Notification){
			func(n *Notification) { n.Message += "x" },
			func(n *Notification) { n.MessageId += "x" },
			func(n *Notification) { n.Subject += "x" },
			func(n *Notification) { n.TopicArn += "x" },
		} {
			changed := got
			change(&changed)
			if Verify(&changed, signer.certPEM) == nil {
				t.Fatalf("a changed %+v verifies", changed)
			}
		}
	})
}
