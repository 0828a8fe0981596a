package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
)

// consoleAgent is an agent of the console, signed in by key.
type consoleAgent struct {
	t      *testing.T
	ts     *testServer
	name   string
	header map[string]string
	id     string
}

func (ts *testServer) signIn(t *testing.T, name string) *consoleAgent {
	t.Helper()
	a := &consoleAgent{t: t, ts: ts, name: name, header: map[string]string{"Authorization": "Bearer " + ts.addConsoleAgent(t, name)}}
	var me struct{ Name, Id string }
	jsonUnmarshal(t, a.must("GET", "/agent/v1/me", ""), &me)
	equal(t, "me", me.Name, name)
	if len(me.Id) != 36 {
		t.Fatalf("/agent/v1/me has no agent id: %+v", me)
	}
	a.id = me.Id
	return a
}

func (a *consoleAgent) call(method, path, body string) (int, []byte) {
	a.t.Helper()
	resp, b := rawRequest(a.t, method, a.ts.URL+path, a.header, body)
	return resp.StatusCode, b
}

func (a *consoleAgent) must(method, path, body string) []byte {
	a.t.Helper()
	status, b := a.call(method, path, body)
	if status != 200 {
		a.t.Fatalf("%s %s %s: %d %s", a.name, method, path, status, b)
	}
	return b
}

func (a *consoleAgent) accept(contactID string) chatDetails {
	a.t.Helper()
	var out struct{ ContactId, ParticipantId, ParticipantToken string }
	jsonUnmarshal(a.t, a.must("POST", "/agent/v1/chats/"+contactID+"/accept", ""), &out)
	return chatDetails{out.ContactId, out.ParticipantId, out.ParticipantToken}
}

// TestTransferContact: the Connect API's TransferContact refuses chats as
// Connect does (TASK and EMAIL only), with the official Go client.
func TestTransferContact(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	cc := ts.connectClient()
	transfer := func(contactID string, queue, user *string) error {
		_, err := cc.TransferContact(context.Background(), &connect.TransferContactInput{InstanceId: aws.String(ts.InstanceID),
			ContactId: aws.String(contactID), ContactFlowId: aws.String("flow"), QueueId: queue, UserId: user})
		return err
	}
	var invalid *ctypes.InvalidRequestException
	if err := transfer(chat.ContactID, aws.String("q"), nil); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "TASK and EMAIL") {
		t.Errorf("TransferContact on a chat: %v, want InvalidRequestException (TASK and EMAIL only)", err)
	}
	if err := transfer(chat.ContactID, aws.String("q"), aws.String("u")); !errors.As(err, &invalid) {
		t.Errorf("TransferContact with QueueId and UserId: %v, want InvalidRequestException", err)
	}
	var notFound *ctypes.ResourceNotFoundException
	if err := transfer("00000000-0000-0000-0000-000000000000", aws.String("q"), nil); !errors.As(err, &notFound) {
		t.Errorf("TransferContact on an unknown contact: %v, want ResourceNotFoundException", err)
	}
}

// TestConsoleTransfers: the console transfers a chat to another agent, who
// alone may accept it, and back to the queue; an agent at their limit
// makes the transfer fail. The customer's ChatJS hears Connect's events.
func TestConsoleTransfers(t *testing.T) {
	ts := startServer(t)
	grace, alan, bob := ts.signIn(t, "Grace"), ts.signIn(t, "Alan"), ts.signIn(t, "Bob")
	var list struct{ Agents []struct{ Id, Name string } }
	jsonUnmarshal(t, grace.must("GET", "/agent/v1/agents", ""), &list)
	equal(t, "agents listed", len(list.Agents), 3)

	chat := ts.startChat(t, nil)
	customer := newPeer(t, "customer", ts.URL, chat)
	customer.mustCall("connect", nil)
	customer.waitFor("socket", 10*time.Second, func(ev peerEvent) bool { return ev.Event == "onConnectionEstablished" && ev.Data != nil })
	grace.accept(chat.ContactID)

	// To Alan: Grace leaves, the chat waits for Alan alone.
	grace.must("POST", "/agent/v1/chats/"+chat.ContactID+"/transfer", fmt.Sprintf(`{"AgentId":%q}`, alan.id))
	customer.waitFor("onParticipantInvited", 10*time.Second, isEvent("onParticipantInvited"))
	if status, b := grace.call("POST", "/agent/v1/chats/"+chat.ContactID+"/transfer", "{}"); status != 403 {
		t.Errorf("a transfer by an agent who left: %d %s", status, b)
	}
	var q struct {
		Waiting []struct{ ContactId, TransferTo string }
	}
	jsonUnmarshal(t, bob.must("GET", "/agent/v1/queue", ""), &q)
	if len(q.Waiting) != 1 || q.Waiting[0].TransferTo != alan.id {
		t.Errorf("the queue after a transfer to Alan: %+v", q)
	}
	if status, _ := bob.call("POST", "/agent/v1/chats/"+chat.ContactID+"/accept", ""); status != 409 {
		t.Errorf("Bob accepted a chat transferred to Alan: %d", status)
	}
	alan.accept(chat.ContactID)
	customer.waitFor("transfer.succeeded", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onMessage" && strings.HasSuffix(str(ev.Data, "ContentType"), "transfer.succeeded")
	})

	// Back to the queue: anyone may accept it.
	alan.must("POST", "/agent/v1/chats/"+chat.ContactID+"/transfer", "{}")
	q.Waiting = nil
	jsonUnmarshal(t, bob.must("GET", "/agent/v1/queue", ""), &q)
	if len(q.Waiting) != 1 || q.Waiting[0].TransferTo != "" {
		t.Errorf("the queue after a transfer to the queue: %+v", q)
	}
	bob.accept(chat.ContactID)

	// Bob at his limit of 10 chats: a transfer to him fails and the chat
	// stays with Alan.
	for range 9 {
		bob.accept(ts.startChat(t, nil).ContactID)
	}
	other := ts.startChat(t, nil)
	alanDetails := alan.accept(other.ContactID)
	if status, b := alan.call("POST", "/agent/v1/chats/"+other.ContactID+"/transfer", fmt.Sprintf(`{"AgentId":%q}`, bob.id)); status != 429 {
		t.Errorf("a transfer to an agent at the limit: %d %s", status, b)
	}
	alanTok := ts.connectionToken(t, alanDetails.ParticipantToken)
	if _, err := ts.participantClient().SendMessage(sendInput(alanTok, "still here")); err != nil {
		t.Errorf("the agent of a failed transfer cannot send: %v", err)
	}
	var events []string
	for _, s := range ts.transcriptTexts(t, alanTok, "") {
		if !strings.Contains(s, ":") {
			events = append(events, s)
		}
	}
	equal(t, "events of the failed transfer", strings.Join(events, " "), "participant.joined participant.joined participant.invited transfer.failed")

	// The first chat's transcript tells the whole story.
	res := customer.mustCall("getTranscript", map[string]any{"scanDirection": "BACKWARD", "sortOrder": "ASCENDING", "maxResults": 30})
	var tr struct {
		Data struct{ Transcript []map[string]any }
	}
	json.Unmarshal(res, &tr)
	var story []string
	for _, it := range tr.Data.Transcript {
		ct := str(it, "ContentType")
		story = append(story, ct[strings.LastIndex(ct, ".")+1:]+"("+str(it, "DisplayName")+")")
	}
	want := "joined(Customer) joined(Grace) left(Grace) invited(Alan) succeeded() joined(Alan) left(Alan) succeeded() joined(Bob)"
	equal(t, "transcript of the transfers", strings.Join(story, " "), want)
}

// TestDescribeContactEnqueueAfterTransfer: QueueInfo.EnqueueTimestamp is
// "the timestamp when the contact was added to the queue" (Connect API
// reference, QueueInfo); a console transfer puts the chat back in the queue,
// so it moves to the transfer, as on Connect, where a transferred contact
// is queued anew. It is the chat's start before any transfer.
func TestDescribeContactEnqueueAfterTransfer(t *testing.T) {
	ts := startServer(t)
	cc := ts.connectClient()
	describe := func(contactID string) *ctypes.Contact {
		t.Helper()
		d := must[*connect.DescribeContactOutput](t)(cc.DescribeContact(context.Background(),
			&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID)}))
		return d.Contact
	}
	chat := ts.startChat(t, nil)
	c := describe(chat.ContactID)
	if c.QueueInfo == nil || !aws.ToTime(c.QueueInfo.EnqueueTimestamp).Equal(aws.ToTime(c.InitiationTimestamp)) {
		t.Fatalf("QueueInfo %+v before any transfer, want EnqueueTimestamp %v (the start)", c.QueueInfo, aws.ToTime(c.InitiationTimestamp))
	}
	grace := ts.signIn(t, "Grace")
	grace.accept(chat.ContactID)
	time.Sleep(20 * time.Millisecond) // the transfer is later than the start by more than the wire's millisecond
	before := time.Now()
	grace.must("POST", "/agent/v1/chats/"+chat.ContactID+"/transfer", "{}")
	after := time.Now()
	c = describe(chat.ContactID)
	got := aws.ToTime(c.QueueInfo.EnqueueTimestamp)
	if got.Before(before.Truncate(time.Millisecond)) || got.After(after) {
		t.Errorf("EnqueueTimestamp after a transfer back to the queue: %v, want the transfer's time (between %v and %v)", got, before, after)
	}
	if !aws.ToTime(c.InitiationTimestamp).Before(got) {
		t.Errorf("InitiationTimestamp %v moved with the transfer", aws.ToTime(c.InitiationTimestamp))
	}
}
