package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// peer is one ChatJS participant running in its own Node process
// (js/chatjs-peer.mjs), driven over JSON lines.
type peer struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	mu      sync.Mutex
	nextID  int
	replies map[int]chan peerReply
	events  chan peerEvent
	log     []string
}

type peerReply struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

type peerEvent struct {
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
}

// newPeer starts ChatJS for a participant of a chat on ts.
func newPeer(t *testing.T, name, url string, chat chatDetails) *peer {
	t.Helper()
	nodeModules(t)
	cfg, _ := json.Marshal(map[string]any{"url": url, "chatDetails": map[string]string{
		"ContactId": chat.ContactID, "ParticipantId": chat.ParticipantID, "ParticipantToken": chat.ParticipantToken}})
	cmd := exec.Command("node", "chatjs-peer.mjs")
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(), "PARLEY_PEER="+string(cfg))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, name: name, cmd: cmd, stdin: stdin, replies: map[int]chan peerReply{}, events: make(chan peerEvent, 4096)}
	go p.readLoop(stdout)
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s saw:\n%s", name, strings.Join(p.log, "\n"))
		}
	})
	return p
}

func (p *peer) readLoop(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var head struct {
			ID    *int   `json:"id"`
			Event string `json:"event"`
		}
		if json.Unmarshal(line, &head) != nil {
			continue
		}
		p.mu.Lock()
		if len(line) < 2000 {
			p.log = append(p.log, string(line))
		}
		if head.ID != nil {
			var rep peerReply
			json.Unmarshal(line, &rep)
			if ch := p.replies[*head.ID]; ch != nil {
				ch <- rep
			}
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		var ev peerEvent
		json.Unmarshal(line, &ev)
		p.events <- ev
	}
	close(p.events)
}

// call runs a ChatJS session method and returns its result.
func (p *peer) call(cmd string, args any) (json.RawMessage, error) {
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	ch := make(chan peerReply, 1)
	p.replies[id] = ch
	p.mu.Unlock()
	line, _ := json.Marshal(map[string]any{"id": id, "cmd": cmd, "args": args})
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	select {
	case rep := <-ch:
		if !rep.OK {
			return nil, fmt.Errorf("%s %s: %s", p.name, cmd, rep.Error)
		}
		return rep.Result, nil
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s %s: no answer in 30s", p.name, cmd)
	}
}

func (p *peer) mustCall(cmd string, args any) json.RawMessage {
	p.t.Helper()
	res, err := p.call(cmd, args)
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

// waitFor returns the first event for which match is true, failing the test
// after timeout. Events before it are passed to skipped, if not nil.
func (p *peer) waitFor(what string, timeout time.Duration, match func(peerEvent) bool) peerEvent {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				p.t.Fatalf("%s: ChatJS exited while waiting for %s", p.name, what)
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			p.t.Fatalf("%s: no %s within %s", p.name, what, timeout)
		}
	}
}

// drain returns the events that arrive within d.
func (p *peer) drain(d time.Duration) []peerEvent {
	var evs []peerEvent
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-p.events:
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			return evs
		}
	}
}

func isEvent(name string) func(peerEvent) bool {
	return func(ev peerEvent) bool { return ev.Event == name }
}

// isItem matches an onMessage item of the given Type whose field has value.
func isItem(typ, field, value string) func(peerEvent) bool {
	return func(ev peerEvent) bool {
		return ev.Event == "onMessage" && ev.Data["Type"] == typ && ev.Data[field] == value
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
