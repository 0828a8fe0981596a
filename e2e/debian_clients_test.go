package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

// debianTool returns path if it exists. The Debian clients are tested by
// their system paths (a pyenv python3 may shadow /usr/bin/python3 on PATH);
// without them the test skips, saying so, unless CI is set, where .ci/run
// installs them and their absence is a failure.
func debianTool(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (.ci/run installs Debian's %s)", path, pkg)
	}
	t.Skipf("SKIPPING: %s is missing (apt-get install %s)", path, pkg)
	return ""
}

// awsEnv is an environment for the AWS tools with the test's keys and no
// user configuration.
func awsEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
	return append([]string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + testAKID,
		"AWS_SECRET_ACCESS_KEY=" + testSecret, "AWS_REGION=" + testRegion, "AWS_DEFAULT_REGION=" + testRegion,
		"AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials",
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}, extra...)
}

// tourCommand returns the README tour's start-chat-contact command, its
// continuation lines joined, so that the test runs it as written.
func tourCommand(t *testing.T) string {
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmd strings.Builder
	in := false
	for s := bufio.NewScanner(f); s.Scan(); {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "aws connect start-chat-contact") {
			in = true
		}
		if !in {
			continue
		}
		more := strings.HasSuffix(line, "\\")
		cmd.WriteString(strings.TrimSuffix(line, "\\"))
		if !more {
			return cmd.String()
		}
	}
	t.Fatal("README.md has no aws connect start-chat-contact command")
	return ""
}

// TestAWSCLI drives Parley with Debian's AWS CLI (awscli): the README's
// start-chat-contact exactly as written, then what its model knows of the
// chat: attributes, describe-contact, stop-contact, and a typed error.
func TestAWSCLI(t *testing.T) {
	bin := debianTool(t, "/usr/bin/aws", "awscli")
	ts := startServer(t)
	run := func(script string) (string, string, error) {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = awsEnv(t, "P="+ts.URL, "I="+ts.InstanceID, "AWS="+bin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	tour := tourCommand(t)
	out, stderr, err := run(strings.Replace(tour, "aws ", `"$AWS" `, 1))
	if err != nil {
		t.Fatalf("the README's command %q: %v\n%s", tour, err, stderr)
	}
	var chat struct{ ContactId, ParticipantId, ParticipantToken string }
	jsonUnmarshal(t, []byte(out), &chat)

	// The initial message arrived whole, comma included.
	tok := ts.connectionToken(t, chat.ParticipantToken)
	tr := must[*cp.GetTranscriptOutput](t)(ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)}))
	var messages []string
	for _, it := range tr.Transcript {
		if *it.Type == "MESSAGE" {
			messages = append(messages, *it.Content)
		}
	}
	equal(t, "initial message", strings.Join(messages, "|"), "Hello, my order is late")

	c := ` --endpoint-url "$P" --instance-id "$I" `
	if _, stderr, err := run(`"$AWS" connect update-contact-attributes` + c + `--initial-contact-id ` + chat.ContactId + ` --attributes order=1234,plan=pro`); err != nil {
		t.Fatalf("update-contact-attributes: %v\n%s", err, stderr)
	}
	out, stderr, err = run(`"$AWS" connect get-contact-attributes` + c + `--initial-contact-id ` + chat.ContactId)
	if err != nil {
		t.Fatalf("get-contact-attributes: %v\n%s", err, stderr)
	}
	var attrs struct{ Attributes map[string]string }
	jsonUnmarshal(t, []byte(out), &attrs)
	if want := map[string]string{"order": "1234", "plan": "pro"}; !reflect.DeepEqual(attrs.Attributes, want) {
		t.Errorf("get-contact-attributes = %v, want %v", attrs.Attributes, want)
	}
	if _, stderr, err := run(`"$AWS" connect stop-contact` + c + `--contact-id ` + chat.ContactId); err != nil {
		t.Fatalf("stop-contact: %v\n%s", err, stderr)
	}
	out, stderr, err = run(`"$AWS" connect describe-contact` + c + `--contact-id ` + chat.ContactId)
	if err != nil {
		t.Fatalf("describe-contact: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "DisconnectTimestamp") {
		t.Errorf("describe-contact of a stopped chat: %s", out)
	}
	_, stderr, err = run(`"$AWS" connect describe-contact` + c + `--contact-id no-such-contact`)
	if err == nil || !strings.Contains(stderr, "(ResourceNotFoundException)") {
		t.Errorf("describe-contact of an unknown contact: %v, %s; want ResourceNotFoundException", err, stderr)
	}
	// The unquoted form the README used to give splits at the comma.
	_, stderr, err = run(`"$AWS" connect start-chat-contact` + c + `--contact-flow-id f --participant-details DisplayName=Ada --initial-message ContentType=text/plain,Content="Hello, my order is late"`)
	if err == nil {
		t.Errorf("the unquoted --initial-message was accepted: %s", stderr)
	}
}

// TestBoto3 drives Parley with Debian's boto3 (python3-boto3) through
// testdata/boto3_client.py.
func TestBoto3(t *testing.T) {
	python := debianTool(t, "/usr/bin/python3", "python3")
	ts := startServer(t)
	check := exec.Command(python, "-c", "import boto3")
	check.Env = awsEnv(t)
	if err := check.Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("boto3 is missing (.ci/run installs Debian's python3-boto3)")
		}
		t.Skip("SKIPPING: boto3 is missing (apt-get install python3-boto3)")
	}
	cmd := exec.Command(python, "testdata/boto3_client.py", ts.URL, ts.InstanceID)
	cmd.Env = awsEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("boto3: %v\n%s", err, stderr.String())
	}
	var got struct {
		Attributes     map[string]string
		Messages       []string
		SentID         string `json:"sentId"`
		UnknownContact string `json:"unknownContact"`
		State          string `json:"state"`
		AfterEnd       string `json:"afterEnd"`
		Newer          map[string]string
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if want := map[string]string{"order": "1234", "plan": "pro"}; !reflect.DeepEqual(got.Attributes, want) {
		t.Errorf("attributes = %v, want %v", got.Attributes, want)
	}
	equal(t, "messages", strings.Join(got.Messages, "|"), "Hello, my order is late|Are you there?")
	equal(t, "unknown contact", got.UnknownContact, "ResourceNotFoundException")
	equal(t, "after stop-contact", got.State, "ENDED")
	equal(t, "sending after the end", got.AfterEnd, "AccessDeniedException")
	want := map[string]string{"TransferContact": "InvalidRequestException", "MonitorContact": "ResourceNotFoundException",
		"StartContactStreaming": "InvalidRequestException", "StopContactStreaming": "ResourceNotFoundException",
		"CreatePersistentContactAssociation": "InvalidRequestException", "PersistentChat": "ok"}
	for op, v := range got.Newer {
		equal(t, "boto3 "+op, v, want[op])
	}
	t.Logf("boto3 drove %d of the newer operations: %v", len(got.Newer), got.Newer)
}
