package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testfiles"
)

// cli runs the built parley binary in dir.
func cli(t *testing.T, ts *testServer, dir string, args ...string) string {
	t.Helper()
	return cliEnv(t, ts, dir, nil, args...)
}

// cliEnv is cli with more environment variables.
func cliEnv(t *testing.T, ts *testServer, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(parleyBin, append([]string{"chat"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret,
		"PARLEY_INSTANCE_ID="+ts.InstanceID, "PARLEY_ENDPOINT="+ts.URL)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("parley chat %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestCLIEndToEnd(t *testing.T) {
	ts := startServer(t)
	dir := t.TempDir()
	agentDir := t.TempDir()

	var started struct{ ContactId, ParticipantId, Role string }
	jsonUnmarshal(t, []byte(cli(t, ts, dir, "start", "--name", "Ada", "--message", "Hello from the CLI", "--json")), &started)
	if started.ContactId == "" || started.Role != "CUSTOMER" {
		t.Fatalf("start: %+v", started)
	}
	if info, err := os.Stat(filepath.Join(dir, "parley-session.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("session file: %v %v (it holds a token: 0600)", info, err)
	}
	out := cli(t, ts, agentDir, "join", "--contact-id", started.ContactId, "--name", "Grace")
	if !strings.Contains(out, "Joined chat "+started.ContactId) {
		t.Errorf("join: %q", out)
	}

	// The agent follows the chat live while the customer talks and sends a file.
	follow := exec.Command(parleyBin, "chat", "transcript", "--follow", "--json")
	follow.Dir = agentDir
	stdout, _ := follow.StdoutPipe()
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill()
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var it map[string]any
			if json.Unmarshal(sc.Bytes(), &it) == nil {
				lines <- it
			}
		}
		close(lines)
	}()

	cli(t, ts, dir, "send", "Are you there?")
	data := testfiles.PDF("CLI upload")
	os.WriteFile(filepath.Join(dir, "invoice.pdf"), data, 0o600)
	var sentFile struct{ AttachmentId string }
	jsonUnmarshal(t, []byte(cli(t, ts, dir, "send-file", "invoice.pdf", "--json")), &sentFile)

	// The agent downloads it; the bytes are exact.
	var got struct {
		Path, ContentType string
		Size              int
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cmd := exec.Command(parleyBin, "chat", "download", sentFile.AttachmentId, "--json")
		cmd.Dir = agentDir
		b, err := cmd.Output()
		if err == nil {
			jsonUnmarshal(t, b, &got)
			break
		}
		if time.Now().After(deadline) { // the verdict may take a moment
			t.Fatalf("download: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	downloaded, _ := os.ReadFile(filepath.Join(agentDir, got.Path))
	if !bytes.Equal(downloaded, data) || got.Path != "invoice.pdf" || got.ContentType != "application/pdf" {
		t.Errorf("downloaded %s (%s, %d bytes), %d bytes match: %v", got.Path, got.ContentType, got.Size, len(downloaded), bytes.Equal(downloaded, data))
	}

	// The transcript, for people.
	out = cli(t, ts, agentDir, "transcript")
	for _, want := range []string{"Ada: Hello from the CLI", "Ada: Are you there?", "Ada sent invoice.pdf [application/pdf, APPROVED]"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	cli(t, ts, dir, "end")

	// The follower saw it all live, then the end.
	var contents []string
	timeout := time.After(10 * time.Second)
	for ended := false; !ended; {
		select {
		case it, ok := <-lines:
			if !ok {
				ended = true
				break
			}
			if c, _ := it["Content"].(string); c != "" {
				contents = append(contents, c)
			}
			if ct, _ := it["ContentType"].(string); strings.HasSuffix(ct, "chat.ended") {
				ended = true
			}
		case <-timeout:
			t.Fatalf("follow saw %v and no end", contents)
		}
	}
	equal(t, "followed messages", strings.Join(contents, "|"), "Hello from the CLI|Are you there?")
	if err := follow.Wait(); err != nil {
		t.Errorf("transcript --follow exited with %v after the chat ended", err)
	}
}

// TestCLIAsOnConnect: what Amazon Connect needs of the CLI works against
// Parley too: a flow id of one's own, temporary credentials (a session
// token), a separate Participant Service endpoint, and a bot joining, since
// Connect adds no agents by API.
func TestCLIAsOnConnect(t *testing.T) {
	ts := startServer(t)
	dir, botDir := t.TempDir(), t.TempDir()
	env := []string{"AWS_SESSION_TOKEN=temporary-session-token", "PARLEY_CONTACT_FLOW_ID=my-flow"}
	var started struct{ ContactId string }
	jsonUnmarshal(t, []byte(cliEnv(t, ts, dir, env, "start", "--name", "Ada", "--participant-endpoint", ts.URL, "--json")), &started)
	var saved struct{ Endpoint, ParticipantEndpoint string }
	b, err := os.ReadFile(filepath.Join(dir, "parley-session.json"))
	if err != nil {
		t.Fatal(err)
	}
	jsonUnmarshal(t, b, &saved)
	equal(t, "saved participant endpoint", saved.ParticipantEndpoint, ts.URL)

	var joined struct{ Role string }
	jsonUnmarshal(t, []byte(cliEnv(t, ts, botDir, env, "join", "--contact-id", started.ContactId, "--role", "custom_bot", "--name", "Helper", "--json")), &joined)
	equal(t, "role", joined.Role, "CUSTOM_BOT")
	cli(t, ts, botDir, "send", "I am a bot")
	out := cli(t, ts, dir, "transcript", "--json")
	if !strings.Contains(out, "I am a bot") || !strings.Contains(out, "CUSTOM_BOT") {
		t.Errorf("the customer's transcript lacks the bot's message:\n%s", out)
	}
	cmd := exec.Command(parleyBin, "chat", "join", "--contact-id", started.ContactId, "--role", "SUPERVISOR")
	cmd.Dir, cmd.Env = botDir, append(os.Environ(), "PARLEY_INSTANCE_ID="+ts.InstanceID, "PARLEY_ENDPOINT="+ts.URL,
		"AWS_ACCESS_KEY_ID="+testAKID, "AWS_SECRET_ACCESS_KEY="+testSecret)
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "AGENT or CUSTOM_BOT") {
		t.Errorf("join --role SUPERVISOR: %v %s", err, msg)
	}
}
