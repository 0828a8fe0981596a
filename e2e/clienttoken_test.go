package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// TestClientTokensOfMonitorAndStreaming: a retry of MonitorContact or
// StartContactStreaming with the ClientToken of the first request gets the
// first answer, even after what it started has ended or stopped; a new
// token is a new request; the token reused for another contact is refused,
// not answered with what was done for the first.
func TestClientTokensOfMonitorAndStreaming(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(hook.Close)
	ts := startServerIn(t, t.TempDir(), "PARLEY_STREAMING_ENDPOINTS", topicARN+"="+hook.URL+"/sns")
	ctx := context.Background()
	cc := ts.connectClient()
	grace, sam := ts.signIn(t, "Grace"), ts.signIn(t, "Sam")
	chat := ts.startChat(t, nil)
	grace.accept(chat.ContactID)

	start := func(token string) (string, error) {
		out, err := cc.StartContactStreaming(ctx, &connect.StartContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
			ContactId: aws.String(chat.ContactID), ClientToken: aws.String(token),
			ChatStreamingConfiguration: &ctypes.ChatStreamingConfiguration{StreamingEndpointArn: aws.String(topicARN)}})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.StreamingId), nil
	}
	monitor := func(token string) error {
		_, err := cc.MonitorContact(ctx, &connect.MonitorContactInput{InstanceId: aws.String(ts.InstanceID),
			ContactId: aws.String(chat.ContactID), UserId: aws.String(sam.id), ClientToken: aws.String(token)})
		return err
	}

	first, err := start("stream-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.StopContactStreaming(ctx, &connect.StopContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(chat.ContactID), StreamingId: aws.String(first)}); err != nil {
		t.Fatal(err)
	}
	if again, err := start("stream-1"); err != nil || again != first {
		t.Errorf("a retry of the first start after its stream stopped: %q, %v; want %q", again, err, first)
	}
	if next, err := start("stream-2"); err != nil || next == first || next == "" {
		t.Errorf("a start with a new token: %q, %v; want a new stream", next, err)
	}
	// The token of a request for another contact is not an answer for
	// this one: nothing was streamed here.
	other := ts.startChat(t, nil)
	var invalid *ctypes.InvalidRequestException
	_, err = cc.StartContactStreaming(ctx, &connect.StartContactStreamingInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(other.ContactID), ClientToken: aws.String("stream-1"),
		ChatStreamingConfiguration: &ctypes.ChatStreamingConfiguration{StreamingEndpointArn: aws.String(topicARN)}})
	if !errors.As(err, &invalid) {
		t.Errorf("StartContactStreaming of another contact with a used token: %v, want InvalidRequestException", err)
	}

	if err := monitor("monitor-1"); err != nil {
		t.Fatal(err)
	}
	grace.accept(other.ContactID)
	var reused *ctypes.IdempotencyException
	if _, err := cc.MonitorContact(ctx, &connect.MonitorContactInput{InstanceId: aws.String(ts.InstanceID),
		ContactId: aws.String(other.ContactID), UserId: aws.String(sam.id), ClientToken: aws.String("monitor-1")}); !errors.As(err, &reused) {
		t.Errorf("MonitorContact of another contact with a used token: %v, want IdempotencyException", err)
	}
	if _, err := cc.StopContact(ctx, stopInput(ts, chat.ContactID)); err != nil {
		t.Fatal(err)
	}
	if err := monitor("monitor-1"); err != nil {
		t.Errorf("a retry of MonitorContact after the chat ended: %v, want the first answer", err)
	}
	if err := monitor("monitor-2"); !errors.As(err, &invalid) {
		t.Errorf("a new MonitorContact after the chat ended: %v, want InvalidRequestException", err)
	}
}
