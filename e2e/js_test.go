package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// nodeModules returns e2e/js/node_modules, skipping the test when the npm
// packages are not installed, unless CI is set: there a skip is a failure.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("js", "node_modules"))
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("npm packages missing in %s: run `make test`, which installs them", dir)
		}
		t.Skipf("npm packages missing in %s: run `make test` (npm ci) to run the official JS clients", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH")
	}
	return dir
}

// runNodeTest runs a node:test file with fixture in PARLEY_FIXTURE.
func runNodeTest(t *testing.T, file string, fixture any) {
	t.Helper()
	nodeModules(t)
	fx, err := json.Marshal(fixture)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "--test", "--test-reporter=spec", file)
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(), "PARLEY_FIXTURE="+string(fx))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("node --test %s: %v\n%s", file, err, out.String())
	}
	if testing.Verbose() {
		t.Logf("%s", out.String())
	}
}

func TestJSParticipantClient(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	agent := ts.addAgent(t, chat.ContactID)
	group := ts.startChat(t, nil)
	ts.addAgent(t, group.ContactID)
	ts.addAgent(t, group.ContactID)
	ending := ts.startChat(t, nil)
	files := ts.startChat(t, nil)
	type details struct{ ContactId, ParticipantId, ParticipantToken string }
	d := func(c chatDetails) details { return details{c.ContactID, c.ParticipantID, c.ParticipantToken} }
	runNodeTest(t, "participant.test.mjs", map[string]any{
		"url": ts.URL, "chat": d(chat), "agent": d(agent), "group": d(group), "ending": d(ending), "files": d(files),
	})
}

// TestJSThrottling: the official JS client sees Parley's 429 as its
// ThrottlingException, and its default retry gets the call through.
func TestJSThrottling(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_PARTICIPANT_RATE", "20", "PARLEY_PARTICIPANT_BURST", "1")
	chat := ts.startChat(t, nil)
	runNodeTest(t, "throttling.test.mjs", map[string]any{"url": ts.URL, "token": ts.connectionToken(t, chat.ParticipantToken)})
}
