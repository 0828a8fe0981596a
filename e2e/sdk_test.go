package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley"
	"github.com/parleychat/parley/contact"
	"github.com/parleychat/parley/internal/testfiles"
)

// sdkSession connects a Go SDK session for a participant.
func sdkSession(t *testing.T, ts *testServer, d chatDetails) *parley.Session {
	t.Helper()
	s := parley.NewSession(parley.Details{ContactID: d.ContactID, ParticipantID: d.ParticipantID, ParticipantToken: d.ParticipantToken},
		parley.Options{Endpoint: ts.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// nextEvent returns the first event for which match is true.
func nextEvent(t *testing.T, s *parley.Session, what string, match func(parley.Event) bool) parley.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if match(e) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s within 20s", what)
		}
	}
}

func TestSDKCustomerAndChatJSAgentConverse(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := context.Background()
	customer, err := contact.Start(ctx, ts.connectClient(), startInput(ts))
	if err != nil {
		t.Fatal(err)
	}
	agentDetails, err := contact.Join(ctx, ts.connectClient(), &contact.JoinInput{InstanceID: ts.InstanceID, ContactID: customer.ContactID, Role: types.ParticipantRoleAgent, DisplayName: "Grace"})
	if err != nil {
		t.Fatal(err)
	}
	s := sdkSession(t, ts, chatDetails{customer.ContactID, customer.ParticipantID, customer.ParticipantToken})
	agent := newPeer(t, "agent", ts.URL, chatDetails{agentDetails.ContactID, agentDetails.ParticipantID, agentDetails.ParticipantToken})
	agent.mustCall("connect", nil)
	agent.waitFor("the agent's socket", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onConnectionEstablished" && ev.Data != nil
	})

	// Go → ChatJS.
	sent, err := s.SendText(ctx, "Hello from Go")
	if err != nil {
		t.Fatal(err)
	}
	agent.waitFor("the Go message", 10*time.Second, isItem("MESSAGE", "Id", sent.ID))
	// ChatJS → Go.
	agent.mustCall("sendMessage", map[string]string{"contentType": "text/plain", "message": "Hello from ChatJS"})
	m := nextEvent(t, s, "the agent's message", func(e parley.Event) bool {
		m, ok := e.(*parley.Message)
		return ok && m.ParticipantRole == "AGENT"
	}).(*parley.Message)
	equal(t, "agent message", m.Content, "Hello from ChatJS")
	// Typing and receipts reach Go as typed events.
	agent.mustCall("sendEvent", map[string]string{"contentType": parley.EventTyping})
	nextEvent(t, s, "typing", func(e parley.Event) bool { _, ok := e.(*parley.Typing); return ok })
	agent.mustCall("sendEvent", map[string]string{"contentType": parley.EventRead, "content": fmt.Sprintf(`{"messageId":%q}`, sent.ID)})
	r := nextEvent(t, s, "read receipt", func(e parley.Event) bool { _, ok := e.(*parley.Receipt); return ok }).(*parley.Receipt)
	if r.MessageID != sent.ID || !r.Read || r.Reader != agentDetails.ParticipantID {
		t.Errorf("receipt %+v", r)
	}

	// A file from Go, with progress, downloaded by ChatJS.
	pdf := testfiles.PDF("from Go")
	var progress []int64
	up, err := s.SendAttachment(ctx, &parley.SendAttachmentInput{Name: "from-go.pdf", ContentType: "application/pdf",
		Body: bytes.NewReader(pdf), Size: int64(len(pdf)), Progress: func(done, total int64) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	id := up.AttachmentID
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(pdf)) {
		t.Errorf("progress %v, want it to reach %d", progress, len(pdf))
	}
	a := attachmentItem(agent, "from-go.pdf", "APPROVED")
	equal(t, "attachment id", a["AttachmentId"], any(id))
	if got := download(t, agent, id); !bytes.Equal(got, pdf) {
		t.Error("ChatJS downloaded other bytes than Go sent")
	}
	nextEvent(t, s, "own attachment approved", func(e parley.Event) bool {
		a, ok := e.(*parley.AttachmentEvent)
		return ok && a.Attachment.ID == id && a.Attachment.Status == "APPROVED"
	})

	// A file from ChatJS, downloaded by Go.
	png := testfiles.PNG(20, 10)
	agent.mustCall("sendAttachment", map[string]string{"name": "from-chatjs.png", "type": "image/png", "base64": base64.StdEncoding.EncodeToString(png)})
	got := nextEvent(t, s, "the agent's attachment", func(e parley.Event) bool {
		a, ok := e.(*parley.AttachmentEvent)
		return ok && a.Attachment.Name == "from-chatjs.png" && a.Attachment.Status == "APPROVED"
	}).(*parley.AttachmentEvent)
	rc, info, err := s.DownloadAttachment(ctx, got.Attachment.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, png) || info.Name != "from-chatjs.png" || info.ContentType != "image/png" || info.Size != int64(len(png)) {
		t.Errorf("downloaded %d bytes, %+v", len(b), info)
	}

	// The Go customer leaves: the chat ends for both, and Events closes.
	if err := s.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, s, "ChatEnded", func(e parley.Event) bool { _, ok := e.(*parley.ChatEnded); return ok })
	agent.waitFor("onEnded", 10*time.Second, isEvent("onEnded"))
	select {
	case _, ok := <-s.Events():
		if ok {
			t.Error("an event after ChatEnded")
		}
	case <-time.After(5 * time.Second):
		t.Error("Events is still open after the chat ended")
	}
}

// TestSDKReconnectsAndDeliversEverythingOnce: the server drops the socket
// (a handover restart) while the other side keeps talking; the SDK
// reconnects and delivers every message once, in order.
func TestSDKReconnectsAndDeliversEverythingOnce(t *testing.T) {
	ts := startServer(t)
	chat, _, _, agentTok := ts.withAgent(t)
	s := sdkSession(t, ts, chat)
	pc := ts.participantClient()

	const total = 60
	var want []string
	var mu sync.Mutex
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for i := range total {
			if i == total/3 {
				ts.handover(t)
				pc = ts.participantClient()
			}
			out, err := pc.SendMessage(sendInput(agentTok, fmt.Sprint("message ", i)))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want = append(want, *out.Id)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var got []string
	var lost, restored bool
	timeout := time.After(60 * time.Second)
	for len(got) < total {
		select {
		case e := <-s.Events():
			switch e := e.(type) {
			case *parley.Message:
				got = append(got, e.ID)
			case *parley.ConnectionLost:
				lost = true
			case *parley.ConnectionRestored:
				restored = true
			}
		case <-timeout:
			t.Fatalf("got %d of %d messages", len(got), total)
		}
	}
	<-sendDone
	for !restored { // the last messages may have come before the catch-up ended
		select {
		case e := <-s.Events():
			switch e := e.(type) {
			case *parley.ConnectionRestored:
				restored = true
			case *parley.Message:
				t.Errorf("a message delivered twice: %s", e.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no ConnectionRestored")
		}
	}
	if !lost || !restored {
		t.Errorf("ConnectionLost %v, ConnectionRestored %v: the drop went unnoticed", lost, restored)
	}
	mu.Lock()
	defer mu.Unlock()
	sameOrder(t, "messages through a reconnect", got, want)
	select {
	case e := <-s.Events():
		if m, ok := e.(*parley.Message); ok {
			t.Errorf("a message delivered twice: %s", m.ID)
		}
	case <-time.After(time.Second):
	}
}

// slowReader gives its bytes slowly, so that an upload can be cancelled
// half way.
type slowReader struct{ left int }

func (r *slowReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(20 * time.Millisecond)
	n := min(len(p), r.left, 4096)
	for i := range n {
		p[i] = 'x'
	}
	r.left -= n
	return n, nil
}

func TestSDKCancelledUploadLeavesNothing(t *testing.T) {
	ts := startServer(t)
	s := sdkSession(t, ts, ts.startChat(t, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := s.SendAttachment(ctx, &parley.SendAttachmentInput{Name: "big.txt", ContentType: "text/plain", Body: &slowReader{left: 1 << 20}, Size: 1 << 20})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled upload: %v", err)
	}
	// The server notices the cut connection and removes what it wrote:
	// poll for it (a loaded machine can take a while), generously.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		blobs, tmp := blobFiles(t, ts.DataDir)
		if len(blobs)+len(tmp) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a cancelled upload left %v %v", blobs, tmp)
			break
		}
	}
}

func TestSDKTypedErrors(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	s := sdkSession(t, ts, ts.startChat(t, nil))

	_, err := s.SendText(ctx, strings.Repeat("x", 1025))
	var invalid *parley.ValidationException
	if !errors.As(err, &invalid) || invalid.StatusCode != 400 || invalid.Message == "" || invalid.RequestID == "" {
		t.Errorf("too long a message: %#v", err)
	}
	_, err = s.SendAttachment(ctx, &parley.SendAttachmentInput{Name: "huge.pdf", ContentType: "application/pdf", Body: strings.NewReader(""), Size: 200 << 20})
	var quota *parley.ServiceQuotaExceededException
	if !errors.As(err, &quota) {
		t.Errorf("too large a file: %v", err)
	}
	var apiErr *parley.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "ServiceQuotaExceededException" {
		t.Errorf("errors.As to *APIError: %v", err)
	}
	forged := parley.NewSession(parley.Details{ParticipantToken: "forged"}, parley.Options{Endpoint: ts.URL})
	err = forged.Connect(ctx)
	var denied *parley.AccessDeniedException
	if !errors.As(err, &denied) || denied.StatusCode != 403 {
		t.Errorf("forged token: %v", err)
	}
}

func TestSDKTranscriptPages(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	chat := ts.startChat(t, nil)
	s := sdkSession(t, ts, chat)
	var want []string
	for i := range 230 {
		sent, err := s.SendText(ctx, fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sent.ID)
	}
	var got []string
	for it, err := range s.Transcript(ctx, parley.TranscriptOptions{Ascending: true, PageSize: 50}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.Type == "MESSAGE" {
			got = append(got, it.ID)
		}
	}
	sameOrder(t, "transcript, oldest first", got, want)
	var newest []string
	for it, err := range s.Transcript(ctx, parley.TranscriptOptions{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		newest = append(newest, it.ID)
	}
	sameOrder(t, "the three newest", newest, []string{want[229], want[228], want[227]})
	var after []string
	for it, err := range s.Transcript(ctx, parley.TranscriptOptions{After: want[225]}) {
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, it.ID)
	}
	sameOrder(t, "after an item", after, want[226:])
}

// TestSDKCatchUpAfterSlowVerdict: a file whose checks take a while is
// announced IN_PROGRESS, then its verdict follows as an item of its own that
// the transcript does not keep (the transcript's item is updated in place).
// A reconnect after that still catches up: the message sent while the
// socket was down arrives.
func TestSDKCatchUpAfterSlowVerdict(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLAMD", slowClamd(t, 2*time.Second))
	chat, _, _, agentTok := ts.withAgent(t)
	s := sdkSession(t, ts, chat)
	ctx := context.Background()
	body := "checked slowly"
	sent, err := s.SendAttachment(ctx, &parley.SendAttachmentInput{Name: "slow.txt", ContentType: "text/plain",
		Body: strings.NewReader(body), Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{"IN_PROGRESS", "APPROVED"} {
		nextEvent(t, s, status, func(e parley.Event) bool {
			a, ok := e.(*parley.AttachmentEvent)
			return ok && a.Attachment.ID == sent.AttachmentID && a.Attachment.Status == status
		})
	}
	ts.handover(t) // drops the socket
	nextEvent(t, s, "ConnectionLost", func(e parley.Event) bool { _, ok := e.(*parley.ConnectionLost); return ok })
	out, err := ts.participantClient().SendMessage(sendInput(agentTok, "sent while you were away"))
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, s, "the message sent while disconnected", func(e parley.Event) bool {
		m, ok := e.(*parley.Message)
		return ok && m.ID == *out.Id
	})
}

// TestSDKRidesOutThrottling: with Connect's request rates applied
// (SendMessage: 10 a second, bursts of 15), a bot that sends 30 messages
// at once gets them all through: the throttled ones are retried with a
// backoff long enough for the rate to let them in, as aws-sdk-go-v2's
// standard retryer does.
func TestSDKRidesOutThrottling(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_THROTTLE", "connect")
	s := sdkSession(t, ts, ts.startChat(t, nil))
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			if _, err := s.SendText(context.Background(), fmt.Sprint("message ", i)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n == 1 {
			t.Errorf("a message failed: %v", err)
		}
	}
	if n > 0 {
		t.Errorf("%d of 30 messages failed", n)
	}
}

// TestSDKCatchUpAfterConnectingDuringAScan: a session that connects while
// a file is being checked (the newest transcript item is its IN_PROGRESS
// announcement) gets the verdict live as an item the transcript does not
// keep; a reconnect after that still catches up.
func TestSDKCatchUpAfterConnectingDuringAScan(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLAMD", slowClamd(t, 3*time.Second))
	chat, agent, custTok, _ := ts.withAgent(t)
	id := upload(t, ts, custTok, testfiles.File{Name: "slow.txt", Type: "text/plain", Data: []byte("checked slowly")})
	// The checks take over a second: IN_PROGRESS is announced, and is the
	// transcript's newest item when the agent connects.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if it := newestItem(t, ts, chat); len(it.Attachments) > 0 && it.Attachments[0].Status == "IN_PROGRESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no IN_PROGRESS announcement")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := sdkSession(t, ts, agent)
	nextEvent(t, s, "the verdict", func(e parley.Event) bool {
		a, ok := e.(*parley.AttachmentEvent)
		return ok && a.Attachment.ID == id && a.Attachment.Status == "APPROVED"
	})
	ts.handover(t) // drops the socket
	nextEvent(t, s, "ConnectionLost", func(e parley.Event) bool { _, ok := e.(*parley.ConnectionLost); return ok })
	out, err := ts.participantClient().SendMessage(sendInput(custTok, "sent while you were away"))
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, s, "the message sent while disconnected", func(e parley.Event) bool {
		m, ok := e.(*parley.Message)
		return ok && m.ID == *out.Id
	})
}

// newestItem reads a participant's newest transcript item.
func newestItem(t *testing.T, ts *testServer, d chatDetails) parley.Item {
	t.Helper()
	s := parley.NewSession(parley.Details{ContactID: d.ContactID, ParticipantID: d.ParticipantID, ParticipantToken: d.ParticipantToken},
		parley.Options{Endpoint: ts.URL})
	defer s.Close()
	if err := s.Authenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for it, err := range s.Transcript(context.Background(), parley.TranscriptOptions{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	return parley.Item{}
}
