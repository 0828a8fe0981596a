package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/connect"
)

// TestThrottleConnect: PARLEY_THROTTLE=connect applies Connect's documented
// request rates. A raw burst sees 429s with the throttling error types, and
// the official Go client, which retries them by default, gets through.
func TestThrottleConnect(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_THROTTLE", "connect")
	chat := ts.startChat(t, nil)

	burst := func(n int, method, path, body string) map[string]int {
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
				if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "connect", testRegion, time.Now()); err != nil {
					t.Error(err)
					return
				}
				resp, _ := send(t, req)
				mu.Lock()
				seen[resp.Status+" "+resp.Header.Get("X-Amzn-ErrorType")]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return seen
	}
	// DescribeContact: "all other operations", 2 a second with bursts of 5.
	seen := burst(12, "GET", "/contacts/"+ts.InstanceID+"/"+chat.ContactID, "")
	if seen["200 OK "] < 5 || seen["200 OK "] > 7 || seen["429 Too Many Requests ThrottlingException"] == 0 {
		t.Errorf("a burst of 12 DescribeContact: %v, want 5 (+ refill) OK and the rest 429 ThrottlingException", seen)
	}
	// StartChatContact: 5 a second with bursts of 8; its reference names
	// its throttling error TooManyRequests.
	start := `{"InstanceId":"` + ts.InstanceID + `","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"x"}}`
	seen = burst(14, "PUT", "/contact/chat", start)
	if seen["429 Too Many Requests TooManyRequestsException"] == 0 {
		t.Errorf("a burst of 14 StartChatContact: %v, want some 429 TooManyRequestsException", seen)
	}

	// The participant API: SendMessage, 10 a second with bursts of 15.
	tok := ts.connectionToken(t, chat.ParticipantToken)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 22 {
		wg.Go(func() {
			resp, _ := rawRequest(t, "POST", ts.URL+"/participant/message", map[string]string{"X-Amz-Bearer": tok},
				`{"ContentType":"text/plain","Content":"hi"}`)
			mu.Lock()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && resp.Header.Get("X-Amzn-ErrorType") != "ThrottlingException" {
				t.Errorf("SendMessage throttled as %q", resp.Header.Get("X-Amzn-ErrorType"))
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] < 15 || codes[429] == 0 {
		t.Errorf("a burst of 22 SendMessage: %v, want 15 (+ refill) 200 and the rest 429", codes)
	}

	// The SDK's standard retryer backs off and retries them until they pass.
	cc := connect.New(connect.Options{Region: testRegion, Credentials: ts.connectClient().Options().Credentials,
		BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 10})
	begin := time.Now()
	for i := range 10 {
		if _, err := cc.DescribeContact(context.Background(), &connect.DescribeContactInput{
			InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}); err != nil {
			t.Fatalf("DescribeContact %d through the SDK: %v", i, err)
		}
	}
	if took := time.Since(begin); took < 2*time.Second {
		t.Errorf("10 DescribeContact took %v: the rate of 2 a second was not applied", took)
	}
}
