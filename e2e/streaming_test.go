package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/streaming"
)

const topicARN = "arn:aws:sns:us-east-1:000000000000:parley-chat"

// receiver is an SNS HTTP subscriber: it verifies every notification's
// signature with the certificate its SigningCertURL names (on 127.0.0.1
// only), and keeps the messages it accepted. While refusing is set it
// answers 503, and it fails the failOnce-th notification once.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	got      []map[string]any
	ids      map[string]int
	refusing bool
	failOnce int
	seen     int
	retried  bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var n streaming.Notification
	if err := json.Unmarshal(body, &n); err != nil || r.Header.Get("x-amz-sns-message-type") != "Notification" || n.Type != "Notification" ||
		n.TopicArn != topicARN || r.Header.Get("x-amz-sns-topic-arn") != topicARN {
		rc.t.Errorf("not an SNS notification: %s", body)
		http.Error(w, "bad", 400)
		return
	}
	cu, err := url.Parse(n.SigningCertURL)
	if err != nil || cu.Hostname() != "127.0.0.1" {
		rc.t.Errorf("SigningCertURL %q", n.SigningCertURL)
		return
	}
	resp, err := http.Get(n.SigningCertURL)
	if err != nil {
		rc.t.Error(err)
		return
	}
	cert, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := streaming.Verify(&n, cert); err != nil {
		rc.t.Errorf("the signature does not verify: %v", err)
		http.Error(w, "bad signature", 400)
		return
	}
	forged := n
	forged.Message += " "
	if streaming.Verify(&forged, cert) == nil {
		rc.t.Error("a changed message verifies")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.seen++
	if rc.refusing || rc.seen == rc.failOnce {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	if _, dup := rc.ids[n.MessageId]; dup {
		return // at least once: a duplicate is acknowledged and dropped
	}
	if rc.seen > rc.failOnce && rc.failOnce > 0 {
		rc.retried = true
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(n.Message), &m); err != nil {
		rc.t.Errorf("Message is not the item's JSON: %q", n.Message)
	}
	if n.MessageAttributes["ContactId"].Value != m["ContactId"] || n.MessageAttributes["Type"].Value != m["Type"] {
		rc.t.Errorf("message attributes %v do not match the item %v", n.MessageAttributes, m)
	}
	// The admin guide's SNS payload names the instance and the account too.
	if n.MessageAttributes["InstanceId"].Value != "test-instance" || n.MessageAttributes["AccountId"].Value != "000000000000" {
		rc.t.Errorf("message attributes %v lack the InstanceId and AccountId of the instance", n.MessageAttributes)
	}
	rc.ids[n.MessageId] = len(rc.got)
	rc.got = append(rc.got, m)
}

// messages are the texts of the MESSAGE items received, in order.
func (rc *receiver) messages() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, m := range rc.got {
		if m["Type"] == "MESSAGE" {
			out = append(out, fmt.Sprint(m["Content"]))
		}
	}
	return out
}

func (rc *receiver) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %v", what, rc.messages())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart shuts a server down and starts another on the same data dir.
func (ts *testServer) restart(t *testing.T, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	next, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go next.Serve()
	ts.srv, ts.URL = next, next.URL()
}

// TestMessageStreaming: StartContactStreaming and StopContactStreaming with
// the official Go client; every item arrives once at the endpoint the
// topic maps to, in order, signed, after the receiver's own failure and
// across a restart of Parley.
func TestMessageStreaming(t *testing.T) {
	rc := &receiver{t: t, ids: map[string]int{}, failOnce: 3}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	dir := t.TempDir()
	env := map[string]string{"PARLEY_ADDR": "127.0.0.1:0", "PARLEY_DATA_DIR": dir, "PARLEY_ACCESS_KEY_ID": testAKID,
		"PARLEY_SECRET_ACCESS_KEY": testSecret, "PARLEY_INSTANCE_ID": "test-instance",
		"PARLEY_STREAMING_ENDPOINTS": topicARN + "=" + hook.URL + "/sns"}
	ts := startServerIn(t, dir, "PARLEY_STREAMING_ENDPOINTS", env["PARLEY_STREAMING_ENDPOINTS"])
	env["PARLEY_DATABASE_URL"] = ts.DatabaseURL // "" on SQLite
	ctx := context.Background()
	start := func(contactID, arn string) (string, error) {
		out, err := ts.connectClient().StartContactStreaming(ctx, &connect.StartContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
			ContactId: aws.String(contactID), ChatStreamingConfiguration: &ctypes.ChatStreamingConfiguration{StreamingEndpointArn: aws.String(arn)}})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.StreamingId), nil
	}

	// Connect's refusals.
	chat, agent, custTok, agentTok := ts.withAgent(t)
	var invalidReq *ctypes.InvalidRequestException
	var invalidParam *ctypes.InvalidParameterException
	var notFound *ctypes.ResourceNotFoundException
	if _, err := start(chat.ContactID, "arn:aws:sns:us-east-1:000000000000:nobody"); !errors.As(err, &invalidReq) {
		t.Errorf("a topic with no endpoint: %v, want InvalidRequestException", err)
	}
	if _, err := start(chat.ContactID, "https://example.com/hook"); !errors.As(err, &invalidParam) {
		t.Errorf("not an SNS topic ARN: %v, want InvalidParameterException", err)
	}
	if _, err := start("00000000-0000-0000-0000-000000000000", topicARN); !errors.As(err, &notFound) {
		t.Errorf("an unknown contact: %v, want ResourceNotFoundException", err)
	}
	ended := ts.endedChat(t, "bye", nil)
	if _, err := start(ended.ContactID, topicARN); !errors.As(err, &invalidReq) {
		t.Errorf("an ended contact: %v, want InvalidRequestException", err)
	}
	_ = agent

	id, err := start(chat.ContactID, topicARN)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := start(chat.ContactID, topicARN); err != nil || again != id {
		t.Errorf("a second start: %q, %v; want the running stream %q", again, err, id)
	}
	pc := ts.participantClient()
	var want []string
	for i := range 10 {
		tok := custTok
		if i%2 == 1 {
			tok = agentTok
		}
		text := fmt.Sprintf("message %d", i)
		if _, err := pc.SendMessage(sendInput(tok, text)); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	if _, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(agentTok),
		ContentType: v1aws.String("application/vnd.amazonaws.connect.event.typing")}); err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, "ten messages, one of them retried", func() bool { return len(rc.messages()) == 10 })
	equal(t, "the stream's messages, in order", strings.Join(rc.messages(), ","), strings.Join(want, ","))
	rc.mu.Lock()
	equal(t, "a retry after the receiver's failure", rc.retried, true)
	rc.mu.Unlock()

	// The receiver is down: what is committed waits in the database and
	// survives a restart of Parley.
	rc.mu.Lock()
	rc.refusing = true
	rc.mu.Unlock()
	for i := 10; i < 13; i++ {
		text := fmt.Sprintf("message %d", i)
		if _, err := pc.SendMessage(sendInput(custTok, text)); err != nil {
			t.Fatal(err)
		}
		want = append(want, text)
	}
	time.Sleep(300 * time.Millisecond)
	ts.restart(t, env)
	rc.mu.Lock()
	rc.refusing = false
	rc.mu.Unlock()
	pc = ts.participantClient()
	if _, err := pc.SendMessage(sendInput(custTok, "after the restart")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "after the restart")
	rc.waitFor(t, "every message after the restart", func() bool { return len(rc.messages()) == len(want) })
	equal(t, "the stream's messages after a restart", strings.Join(rc.messages(), ","), strings.Join(want, ","))

	// Events stream too; after StopContactStreaming nothing more does.
	if _, err := ts.connectClient().StopContactStreaming(ctx, &connect.StopContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(chat.ContactID), StreamingId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.SendMessage(sendInput(custTok, "not streamed")); err != nil {
		t.Fatal(err)
	}
	_, err = ts.connectClient().StopContactStreaming(ctx, &connect.StopContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(chat.ContactID), StreamingId: aws.String("no-such-stream")})
	if !errors.As(err, &notFound) {
		t.Errorf("stopping an unknown stream: %v, want ResourceNotFoundException", err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := rc.messages(); got[len(got)-1] == "not streamed" {
		t.Error("a message after StopContactStreaming was streamed")
	}
	rc.mu.Lock()
	events := 0
	for _, m := range rc.got {
		if m["Type"] == "EVENT" {
			events++
		}
	}
	rc.mu.Unlock()
	if events == 0 {
		t.Error("no events were streamed")
	}
}

// TestJSConnectClient: the official JS Connect client drives persistent
// chat, TransferContact, MonitorContact and streaming (connect.test.mjs).
func TestJSConnectClient(t *testing.T) {
	nodeModules(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	ts := startServerIn(t, t.TempDir(), "PARLEY_STREAMING_ENDPOINTS", topicARN+"="+hook.URL)
	past, past2 := ts.endedChat(t, "one", nil), ts.endedChat(t, "two", nil)
	live := ts.startChat(t, nil)
	ts.addAgent(t, live.ContactID)
	sam := ts.signIn(t, "Sam")
	runNodeTest(t, "connect.test.mjs", map[string]any{"url": ts.URL, "instanceId": ts.InstanceID, "accessKeyId": testAKID,
		"secretAccessKey": testSecret, "past": past.ContactID, "past2": past2.ContactID, "live": live.ContactID,
		"supervisor": sam.id, "topic": topicARN})
}
