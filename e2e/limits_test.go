package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	v1creds "github.com/aws/aws-sdk-go/aws/credentials"
	v1session "github.com/aws/aws-sdk-go/aws/session"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

// dialFrom opens a TCP connection to the server at url from a local
// address of the loopback network other than 127.0.0.1 (which per-address
// limits exempt), as a second machine would.
func dialFrom(ctx context.Context, from, url string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", strings.TrimPrefix(url, "http://"))
}

// clientFrom is an HTTP client whose connections come from the address from.
func clientFrom(from string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialFrom(ctx, from, "http://"+addr)
		},
	}}
}

// serverClosed waits up to d for the server to close c.
func serverClosed(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c) // the server may answer before it closes
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestSlowBodiesDoNotStarveTheServer: with the process's file limit at 300,
// 400 clients from one address that send a request's headers and one byte
// of its 1 MB body — on the participant API, the Connect API, the widget
// and the upload PUT — leave /healthz and the APIs answering another
// client, and each of their connections is closed once its body is late.
func TestSlowBodiesDoNotStarveTheServer(t *testing.T) {
	const bodyTimeout = 6 * time.Second
	p := startProcessWith(t, t.TempDir(), 300, "PARLEY_BODY_TIMEOUT="+bodyTimeout.String(), "PARLEY_DATABASE_URL="+databaseURL(t))
	ts := &testServer{URL: p.url, InstanceID: "test-instance"}
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	up, err := ts.participantClient().StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("big.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(1 << 20), ClientToken: v1aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	uploadPath := strings.TrimPrefix(*up.UploadMetadata.Url, p.url)
	// Mostly routes that, before this fix, read a body whatever the
	// request: the widget refuses an address's 31st chat, and an upload URL
	// takes one PUT at a time, before reading any.
	participant := "POST /participant/message HTTP/1.1\r\nX-Amz-Bearer: " + tok + "\r\n"
	connect := "PUT /contact/chat HTTP/1.1\r\n"
	heads := []string{participant, participant, participant, connect, connect, connect,
		"POST /widget/v1/chats HTTP/1.1\r\nOrigin: " + p.url + "\r\n",
		"PUT " + uploadPath + " HTTP/1.1\r\nContent-Type: text/plain\r\n",
	}

	const attackers = 400
	conns := make([]net.Conn, 0, attackers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialFrom(context.Background(), "127.0.0.2", p.url)
			if err != nil {
				return // refused: fine
			}
			fmt.Fprintf(c, "%sHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", heads[i%len(heads)], 1<<20)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(conns) < attackers/2 {
		t.Fatalf("only %d of %d attacking connections could be opened from 127.0.0.2", len(conns), attackers)
	}
	attackStart := time.Now()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	// Another client is served: a fresh connection to /healthz, and real calls.
	healthz := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 5 {
		resp, err := healthz.Get(p.url + "/healthz")
		if err != nil {
			t.Fatalf("/healthz %d under attack: %v", i, err)
		}
		resp.Body.Close()
		equal(t, "/healthz", resp.StatusCode, http.StatusOK)
	}
	other := ts.startChat(t, nil)
	if _, err := ts.participantClient().SendMessage(sendInput(ts.connectionToken(t, other.ParticipantToken), "still here")); err != nil {
		t.Fatalf("SendMessage under attack: %v", err)
	}
	if time.Since(attackStart) > bodyTimeout {
		t.Fatalf("the checks took %v, longer than the body timeout: they did not run under attack", time.Since(attackStart))
	}

	// And no slow client keeps its connection past the body timeout.
	deadline := attackStart.Add(bodyTimeout + 5*time.Second)
	kept := 0
	for _, c := range conns {
		if !serverClosed(c, time.Until(deadline)) {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("%d of %d slow connections were still open %v after their headers", kept, len(conns), bodyTimeout+5*time.Second)
	}
}

// TestStalledUploadIsCutAndItsRetrySucceeds: an upload PUT that stops
// sending is cut after one window below the minimum rate, which releases
// its URL: the client's retry of the same URL succeeds instead of getting
// 409, and the attachment completes.
func TestStalledUploadIsCutAndItsRetrySucceeds(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_BODY_TIMEOUT", "1s", "PARLEY_UPLOAD_MIN_RATE", "1024")
	chat, _, tok, _ := ts.withAgent(t)
	_ = chat
	pc := ts.participantClient()
	data := strings.Repeat("a line of a customer's notes\n", 200)
	up := must[*cp.StartAttachmentUploadOutput](t)(pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("notes.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(data))), ClientToken: v1aws.String("notes")}))
	url := *up.UploadMetadata.Url

	c, err := dialFrom(context.Background(), "127.0.0.1", ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(url, ts.URL), len(data), data[:100])
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the stalled upload got no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	t.Logf("stalled upload cut after %v: %d %s", time.Since(start).Round(time.Millisecond), resp.StatusCode, body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "too slowly") {
		t.Errorf("the stalled upload's answer: %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest("PUT", url, strings.NewReader(data))
	req.Header.Set("Content-Type", "text/plain")
	resp, body = send(t, req)
	equal(t, "the retry's status ("+string(body)+")", resp.StatusCode, http.StatusOK)
	if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*up.AttachmentId}), ClientToken: v1aws.String("done")}); err != nil {
		t.Fatalf("CompleteAttachmentUpload after the retry: %v", err)
	}
}

// throttled checks an answer is Connect's ThrottlingException, byte for byte.
func throttled(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException" ||
		string(body) != `{"Message":"Rate exceeded"}` {
		t.Errorf("%s: %d %s %s, want 429 ThrottlingException {\"Message\":\"Rate exceeded\"}", what, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
}

func participantCall(t *testing.T, client *http.Client, url, path, bearer, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Bearer", bearer)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestParticipantRateLimits: each participant has a bucket per operation,
// each client address one for all its calls (this host's 127.0.0.1
// excepted); over either, the answer is Connect's 429 ThrottlingException
// and nothing is stored.
func TestParticipantRateLimits(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_PARTICIPANT_RATE", "0.1", "PARLEY_PARTICIPANT_BURST", "3",
		"PARLEY_CLIENT_RATE", "0.1", "PARLEY_CLIENT_BURST", "5")
	local := http.DefaultClient
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken) // 1 of 3 CreateParticipantConnection
	msg := `{"ContentType":"text/plain","Content":"hi"}`
	for i := range 3 {
		resp, body := participantCall(t, local, ts.URL, "/participant/message", tok, msg)
		equal(t, fmt.Sprintf("message %d (%s)", i, body), resp.StatusCode, http.StatusOK)
	}
	resp, body := participantCall(t, local, ts.URL, "/participant/message", tok, msg)
	throttled(t, "a 4th message at once", resp, body)
	tr := must[*cp.GetTranscriptOutput](t)(ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)}))
	messages := 0
	for _, it := range tr.Transcript {
		if *it.Type == "MESSAGE" {
			messages++
		}
	}
	equal(t, "messages stored", messages, 3)

	// Another operation of the same participant, and another participant,
	// have their own buckets.
	resp, body = participantCall(t, local, ts.URL, "/participant/event", tok, `{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`)
	equal(t, "a typing event ("+string(body)+")", resp.StatusCode, http.StatusOK)
	other := ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)
	resp, body = participantCall(t, local, ts.URL, "/participant/message", other, msg)
	equal(t, "another participant's message ("+string(body)+")", resp.StatusCode, http.StatusOK)

	// CreateParticipantConnection counts for the ParticipantToken's participant.
	conn := `{"Type":["CONNECTION_CREDENTIALS"]}`
	for i := range 2 {
		resp, body = participantCall(t, local, ts.URL, "/participant/connection", chat.ParticipantToken, conn)
		equal(t, fmt.Sprintf("connection %d (%s)", i+2, body), resp.StatusCode, http.StatusOK)
	}
	resp, body = participantCall(t, local, ts.URL, "/participant/connection", chat.ParticipantToken, conn)
	throttled(t, "a 4th CreateParticipantConnection", resp, body)

	// One address, whatever the tokens: 5 calls, then throttled, before the
	// token is even looked at.
	remote := clientFrom("127.0.0.2")
	for i := range 5 {
		resp, body = participantCall(t, remote, ts.URL, "/participant/message", fmt.Sprint("forged-", i), msg)
		equal(t, fmt.Sprintf("forged token %d (%s)", i, body), resp.StatusCode, http.StatusForbidden)
	}
	resp, body = participantCall(t, remote, ts.URL, "/participant/transcript", other, `{}`)
	throttled(t, "a 6th call from 127.0.0.2", resp, body)
	resp, body = participantCall(t, clientFrom("127.0.0.3"), ts.URL, "/participant/transcript", other, `{}`)
	equal(t, "another address ("+string(body)+")", resp.StatusCode, http.StatusOK)
	for i := range 10 {
		resp, body = participantCall(t, local, ts.URL, "/participant/message", fmt.Sprint("forged-", i), msg)
		equal(t, fmt.Sprintf("127.0.0.1 is not limited per address, call %d (%s)", i, body), resp.StatusCode, http.StatusForbidden)
	}
}

// TestEventContentIsBounded: SendEvent's Content is at most 1024
// characters, for typing events as for receipts: a 16 KB typing event is a
// ValidationException and is neither stored nor delivered.
func TestEventContentIsBounded(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	pc := ts.participantClient()
	typing := "application/vnd.amazonaws.connect.event.typing"
	_, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(typing),
		Content: v1aws.String(strings.Repeat("x", 16384))})
	wantCode(t, "a 16 KB typing event", err, "ValidationException", http.StatusBadRequest)
	_, err = pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(typing),
		Content: v1aws.String(strings.Repeat("é", 1025))})
	wantCode(t, "1025 characters", err, "ValidationException", http.StatusBadRequest)
	if _, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(typing),
		Content: v1aws.String(strings.Repeat("é", 1024))}); err != nil {
		t.Errorf("1024 characters: %v", err)
	}
	if _, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(typing)}); err != nil {
		t.Errorf("a typing event without content: %v", err)
	}
	var big struct{ Message string }
	_, raw := rawRequest(t, "POST", ts.URL+"/participant/event", map[string]string{"X-Amz-Bearer": tok},
		`{"ContentType":"`+typing+`","Content":"`+strings.Repeat("y", 16384)+`"}`)
	json.Unmarshal(raw, &big)
	if !strings.Contains(big.Message, "1024") {
		t.Errorf("the refusal says %q; it should give the limit", big.Message)
	}
}

// TestGoClientRetriesThrottling: the official Go client (v1, as ChatJS's
// Node users have it) sees the 429 as ThrottlingException, and its default
// retryer, which waits at least half a second after a throttle, gets
// concurrent calls through.
func TestGoClientRetriesThrottling(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_PARTICIPANT_RATE", "20", "PARLEY_PARTICIPANT_BURST", "1")
	tok := ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)
	calls := func(pc *cp.ConnectParticipant, n int) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = pc.SendMessage(sendInput(tok, fmt.Sprint("at once ", i)))
			}()
		}
		wg.Wait()
		return errs
	}
	throttledCalls := 0
	for _, err := range calls(ts.participantClient(), 5) { // MaxRetries 0
		if err != nil {
			wantCode(t, "a call over the burst", err, "ThrottlingException", http.StatusTooManyRequests)
			throttledCalls++
		}
	}
	if throttledCalls == 0 {
		t.Fatal("none of five calls at once (burst 1) was throttled")
	}
	time.Sleep(100 * time.Millisecond)
	retrying := cp.New(v1session.Must(v1session.NewSession(&v1aws.Config{ // the SDK's default retryer
		Region: v1aws.String(testRegion), Endpoint: v1aws.String(ts.URL), Credentials: v1creds.AnonymousCredentials})))
	for i, err := range calls(retrying, 3) {
		if err != nil {
			t.Errorf("call %d with the default retryer: %v", i, err)
		}
	}
}

// TestTokensAreCheckedBeforeTheBody: a request with a forged token is
// refused at once, without waiting for its body, on the participant API
// (ConnectionToken and ParticipantToken), the Connect API (SigV4's key and
// date) and the upload URL.
func TestTokensAreCheckedBeforeTheBody(t *testing.T) {
	ts := startServer(t) // bodies may take 30 s
	tok := ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)
	up := must[*cp.StartAttachmentUploadOutput](t)(ts.participantClient().StartAttachmentUpload(&cp.StartAttachmentUploadInput{
		ConnectionToken: v1aws.String(tok), AttachmentName: v1aws.String("a.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(1000), ClientToken: v1aws.String("a")}))
	forgedUpload := strings.TrimPrefix(*up.UploadMetadata.Url, ts.URL)
	forgedUpload = forgedUpload[:strings.Index(forgedUpload, "?")] + "?token=forged"
	for _, tt := range []struct{ name, head, wantType string }{
		{"SendMessage", "POST /participant/message HTTP/1.1\r\nX-Amz-Bearer: forged\r\n", "AccessDeniedException"},
		{"CreateParticipantConnection", "POST /participant/connection HTTP/1.1\r\nX-Amz-Bearer: forged\r\n", "AccessDeniedException"},
		{"StartChatContact, unsigned", "PUT /contact/chat HTTP/1.1\r\n", "MissingAuthenticationTokenException"},
		{"StartChatContact, unknown key", "PUT /contact/chat HTTP/1.1\r\nX-Amz-Date: 20260101T000000Z\r\n" +
			"Authorization: AWS4-HMAC-SHA256 Credential=NOBODY/20260101/us-east-1/connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n",
			"UnrecognizedClientException"},
		{"upload PUT", "PUT " + forgedUpload + " HTTP/1.1\r\n", ""},
	} {
		c, err := dialFrom(context.Background(), "127.0.0.1", ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "%sHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n{", tt.head, 1<<20)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Errorf("%s: no answer before the body: %v", tt.name, err)
			continue
		}
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != tt.wantType {
			t.Errorf("%s: %d %s, want 403 %s", tt.name, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tt.wantType)
		}
	}
}

// TestUploadRetryTakesOverAStalledOne: a client whose connection died
// silently mid-upload retries at once; the retry takes over the URL from
// the stalled PUT (which the server has not yet cut: bodies may take 30 s)
// instead of getting 409.
func TestUploadRetryTakesOverAStalledOne(t *testing.T) {
	ts := startServer(t)
	_, _, tok, _ := ts.withAgent(t)
	pc := ts.participantClient()
	data := strings.Repeat("another line of notes\n", 300)
	up := must[*cp.StartAttachmentUploadOutput](t)(pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentName: v1aws.String("notes.txt"), ContentType: v1aws.String("text/plain"),
		AttachmentSizeInBytes: v1aws.Int64(int64(len(data))), ClientToken: v1aws.String("notes")}))
	url := *up.UploadMetadata.Url
	c, err := dialFrom(context.Background(), "127.0.0.1", ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(url, ts.URL), len(data), data[:100])
	// The stalled PUT holds the URL once the server is writing its file (it
	// claims the URL first): wait for that rather than for a fixed time,
	// which a loaded machine can overrun (the retry would then come first
	// and prove nothing, and the stalled PUT would get another answer).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, tmp := blobFiles(t, ts.DataDir); len(tmp) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stalled PUT never began writing its file")
		}
	}

	start := time.Now()
	req, _ := http.NewRequest("PUT", url, strings.NewReader(data))
	req.Header.Set("Content-Type", "text/plain")
	resp, body := send(t, req)
	equal(t, "the retry's status ("+string(body)+")", resp.StatusCode, http.StatusOK)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the retry took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	old, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the stalled PUT got no answer: %v", err)
	}
	equal(t, "the stalled PUT's status", old.StatusCode, http.StatusBadRequest)
	if _, err := pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok),
		AttachmentIds: v1aws.StringSlice([]string{*up.AttachmentId}), ClientToken: v1aws.String("done")}); err != nil {
		t.Fatalf("CompleteAttachmentUpload after the retry: %v", err)
	}
}

// TestClientRateBehindTrustedProxy: behind a proxy listed in
// PARLEY_TRUSTED_PROXIES, the per-address rate applies to the client the
// proxy names in X-Forwarded-For (an IPv6 client by its /64), not to the
// proxy's own address, which every client shares.
func TestClientRateBehindTrustedProxy(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CLIENT_RATE", "0.1", "PARLEY_CLIENT_BURST", "3",
		"PARLEY_TRUSTED_PROXIES", "127.0.0.5/32")
	proxy := clientFrom("127.0.0.5")
	msg := `{"ContentType":"text/plain","Content":"hi"}`
	call := func(client string) int {
		req, _ := http.NewRequest("POST", ts.URL+"/participant/message", strings.NewReader(msg))
		req.Header.Set("X-Amz-Bearer", "forged")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := proxy.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 3 {
		equal(t, fmt.Sprintf("client A, call %d", i), call("203.0.113.7"), http.StatusForbidden)
	}
	equal(t, "client A's 4th call", call("203.0.113.7"), http.StatusTooManyRequests)
	equal(t, "client B through the same proxy", call("203.0.113.8"), http.StatusForbidden)
	for i := range 3 {
		equal(t, fmt.Sprintf("an IPv6 client, call %d", i), call(fmt.Sprintf("2001:db8:1:2::%d", i+1)), http.StatusForbidden)
	}
	equal(t, "another address of the same /64", call("2001:db8:1:2::99"), http.StatusTooManyRequests)
}
