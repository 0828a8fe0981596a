package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	v1aws "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

// wantCode checks that err is the service exception code with status.
func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var rf awserr.RequestFailure
	if !errors.As(err, &rf) {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	if rf.Code() != code || rf.StatusCode() != status {
		t.Errorf("%s: %s (%d) %q, want %s (%d)", what, rf.Code(), rf.StatusCode(), rf.Message(), code, status)
	}
}

func TestParticipantConnection(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat := ts.startChat(t, nil)

	out, err := pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken),
		Type:             v1aws.StringSlice([]string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*out.Websocket.Url, "ws://127.0.0.1:") {
		t.Errorf("Websocket.Url = %s; ChatJS accepts only wss:// or ws://127.0.0.1:", *out.Websocket.Url)
	}
	for name, v := range map[string]string{"ConnectionExpiry": *out.Websocket.ConnectionExpiry, "Expiry": *out.ConnectionCredentials.Expiry} {
		exp, err := time.Parse("2006-01-02T15:04:05.000Z", v)
		if err != nil || exp.Before(time.Now().Add(time.Hour)) {
			t.Errorf("%s = %q (%v); want an ISO-8601 millisecond time hours ahead", name, v, err)
		}
	}

	// Again with the same participant token: a new, different connection.
	again, err := pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), Type: v1aws.StringSlice([]string{"CONNECTION_CREDENTIALS"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if *again.ConnectionCredentials.ConnectionToken == *out.ConnectionCredentials.ConnectionToken || again.Websocket != nil {
		t.Errorf("second connection: %+v", again)
	}
	// Both tokens work.
	for _, tok := range []string{*out.ConnectionCredentials.ConnectionToken, *again.ConnectionCredentials.ConnectionToken} {
		if _, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String("application/vnd.amazonaws.connect.event.typing")}); err != nil {
			t.Errorf("SendEvent with a connection token: %v", err)
		}
	}

	// The agent acknowledgement ChatJS sends: ConnectParticipant without Type.
	ack, err := pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), ConnectParticipant: v1aws.Bool(true),
	})
	if err != nil || ack.Websocket != nil || ack.ConnectionCredentials != nil {
		t.Errorf("ConnectParticipant only: %+v, %v", ack, err)
	}

	_, err = pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String("not-a-token"), Type: v1aws.StringSlice([]string{"WEBSOCKET"}),
	})
	wantCode(t, "bad participant token", err, "AccessDeniedException", http.StatusForbidden)

	_, err = pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{
		ParticipantToken: v1aws.String(chat.ParticipantToken), Type: v1aws.StringSlice([]string{"CARRIER_PIGEON"}),
	})
	wantCode(t, "unknown connection type", err, "ValidationException", http.StatusBadRequest)
}

func TestParticipantMessages(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat := ts.startChat(t, &connect.StartChatContactInput{SupportedMessagingContentTypes: []string{"text/plain", "application/json"}})
	tok := ts.connectionToken(t, chat.ParticipantToken)

	send := func(contentType, content, clientToken string) (*cp.SendMessageOutput, error) {
		in := &cp.SendMessageInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(contentType), Content: v1aws.String(content)}
		if clientToken != "" {
			in.ClientToken = v1aws.String(clientToken)
		}
		return pc.SendMessage(in)
	}
	m, err := send("text/plain", "héllo 👋", "")
	if err != nil {
		t.Fatal(err)
	}
	if *m.Id == "" || len(*m.AbsoluteTime) != len("2019-11-08T02:41:28.172Z") {
		t.Errorf("SendMessage = %+v", m)
	}

	tests := []struct {
		name, contentType, content string
		wantErr                    string
	}{
		{"plain text at the limit", "text/plain", strings.Repeat("é", 1024), ""},
		{"plain text over the limit", "text/plain", strings.Repeat("a", 1025), "ValidationException"},
		{"json within its larger limit", "application/json", `{"a":"` + strings.Repeat("x", 5000) + `"}`, ""},
		{"json over its limit", "application/json", `"` + strings.Repeat("x", 12000) + `"`, "ValidationException"},
		{"type not supported by the chat", "text/markdown", "**bold**", "ValidationException"},
		{"not a message type", "image/png", "x", "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := send(tt.contentType, tt.content, "")
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" {
				wantCode(t, tt.name, err, tt.wantErr, http.StatusBadRequest)
			}
		})
	}

	// A retry with the same ClientToken returns the first result and adds nothing.
	first := must[*cp.SendMessageOutput](t)(send("text/plain", "once", "token-1"))
	retry := must[*cp.SendMessageOutput](t)(send("text/plain", "once", "token-1"))
	equal(t, "retried Id", *retry.Id, *first.Id)
	equal(t, "retried AbsoluteTime", *retry.AbsoluteTime, *first.AbsoluteTime)
	tr := must[*cp.GetTranscriptOutput](t)(pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok), MaxResults: v1aws.Int64(100)}))
	n := 0
	for _, it := range tr.Transcript {
		if it.Content != nil && *it.Content == "once" {
			n++
		}
	}
	equal(t, "copies of the retried message", n, 1)

	_, err = pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String("forged"), ContentType: v1aws.String("text/plain"), Content: v1aws.String("x")})
	wantCode(t, "forged connection token", err, "AccessDeniedException", http.StatusForbidden)
}

func TestParticipantEventsAndReceipts(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat, _, custTok, agentTok := ts.withAgent(t)

	msg := must[*cp.SendMessageOutput](t)(pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(agentTok),
		ContentType: v1aws.String("text/plain"), Content: v1aws.String("How can I help?")}))

	event := func(tok, contentType, content string) (*cp.SendEventOutput, error) {
		in := &cp.SendEventInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String(contentType)}
		if content != "" {
			in.Content = v1aws.String(content)
		}
		return pc.SendEvent(in)
	}
	if _, err := event(custTok, "application/vnd.amazonaws.connect.event.typing", ""); err != nil {
		t.Fatal(err)
	}
	receipt := fmt.Sprintf(`{"messageId":%q}`, *msg.Id)
	if _, err := event(custTok, "application/vnd.amazonaws.connect.event.message.delivered", receipt); err != nil {
		t.Fatal(err)
	}
	if _, err := event(custTok, "application/vnd.amazonaws.connect.event.message.read", receipt); err != nil {
		t.Fatal(err)
	}

	_, err := event(custTok, "application/vnd.amazonaws.connect.event.message.read", `{"messageId":"no-such-message"}`)
	wantCode(t, "receipt for an unknown message", err, "ValidationException", http.StatusBadRequest)
	_, err = event(custTok, "application/vnd.amazonaws.connect.event.message.read", `not json`)
	wantCode(t, "receipt without a messageId", err, "ValidationException", http.StatusBadRequest)
	_, err = event(custTok, "application/vnd.amazonaws.connect.event.chat.ended", "")
	wantCode(t, "an event participants cannot send", err, "ValidationException", http.StatusBadRequest)

	// The transcript keeps the message with its receipts, and no typing event.
	tr := must[*cp.GetTranscriptOutput](t)(pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok), MaxResults: v1aws.Int64(100)}))
	var found bool
	for _, it := range tr.Transcript {
		if it.ContentType != nil && strings.HasSuffix(*it.ContentType, ".typing") {
			t.Errorf("typing event in the transcript: %v", it)
		}
		if *it.Id != *msg.Id {
			continue
		}
		found = true
		if it.MessageMetadata == nil || len(it.MessageMetadata.Receipts) != 1 {
			t.Fatalf("message metadata = %v", it.MessageMetadata)
		}
		r := it.MessageMetadata.Receipts[0]
		equal(t, "receipt recipient", *r.RecipientParticipantId, chat.ParticipantID)
		if r.DeliveredTimestamp == nil || r.ReadTimestamp == nil {
			t.Errorf("receipt = %v", r)
		}
	}
	if !found {
		t.Error("message missing from transcript")
	}

	// With a third participant, receipts are refused as on Connect.
	ts.addAgent(t, chat.ContactID)
	_, err = event(custTok, "application/vnd.amazonaws.connect.event.message.read", receipt)
	wantCode(t, "receipt in a three-party chat", err, "ConflictException", http.StatusConflict)
}

func TestTranscriptPaging(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat := ts.startChat(t, nil)
	tok := ts.connectionToken(t, chat.ParticipantToken)
	// The transcript starts with the customer's participant.joined event.
	var ids []string
	first := must[*cp.GetTranscriptOutput](t)(pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok)}))
	if len(first.Transcript) != 1 || !strings.HasSuffix(*first.Transcript[0].ContentType, "participant.joined") {
		t.Fatalf("new chat transcript = %v", first.Transcript)
	}
	equal(t, "InitialContactId", *first.InitialContactId, chat.ContactID)
	ids = append(ids, *first.Transcript[0].Id)
	for i := range 25 {
		m := must[*cp.SendMessageOutput](t)(pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tok),
			ContentType: v1aws.String("text/plain"), Content: v1aws.String(fmt.Sprint("m", i))}))
		ids = append(ids, *m.Id)
	}

	// page walks every page of a query and returns the ids in order.
	page := func(in cp.GetTranscriptInput) (pages [][]string) {
		t.Helper()
		in.ConnectionToken = v1aws.String(tok)
		for {
			out, err := pc.GetTranscript(&in)
			if err != nil {
				t.Fatal(err)
			}
			var p []string
			for _, it := range out.Transcript {
				p = append(p, *it.Id)
			}
			pages = append(pages, p)
			if out.NextToken == nil {
				return pages
			}
			in.NextToken = out.NextToken
		}
	}
	flat := func(pages [][]string) (all []string) {
		for _, p := range pages {
			all = append(all, p...)
		}
		return all
	}
	reversed := func(s []string) []string {
		r := make([]string, len(s))
		for i, v := range s {
			r[len(s)-1-i] = v
		}
		return r
	}

	// Default: backward from the newest, 10 per page, newest first.
	pages := page(cp.GetTranscriptInput{})
	equal(t, "default pages", len(pages), 3)
	equal(t, "default page size", len(pages[0]), 10)
	equal(t, "default order", strings.Join(flat(pages), ","), strings.Join(reversed(ids), ","))

	// Backward with ascending pages, as ChatJS asks.
	pages = page(cp.GetTranscriptInput{MaxResults: v1aws.Int64(15), SortOrder: v1aws.String("ASCENDING"), StartPosition: &cp.StartPosition{}})
	equal(t, "ascending backward pages", len(pages), 2)
	equal(t, "newest page ascending", strings.Join(pages[0], ","), strings.Join(ids[len(ids)-15:], ","))

	// Forward from an item id, inclusive.
	pages = page(cp.GetTranscriptInput{StartPosition: &cp.StartPosition{Id: v1aws.String(ids[5])}, SortOrder: v1aws.String("ASCENDING"), MaxResults: v1aws.Int64(7)})
	equal(t, "forward from id", strings.Join(flat(pages), ","), strings.Join(ids[5:], ","))

	// MostRecent 3 forward: the three newest items.
	pages = page(cp.GetTranscriptInput{StartPosition: &cp.StartPosition{MostRecent: v1aws.Int64(3)}, SortOrder: v1aws.String("ASCENDING")})
	equal(t, "most recent 3", strings.Join(flat(pages), ","), strings.Join(ids[len(ids)-3:], ","))

	// From an absolute time backward: everything at or before it.
	all := must[*cp.GetTranscriptOutput](t)(pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok), MaxResults: v1aws.Int64(100), SortOrder: v1aws.String("ASCENDING")}))
	equal(t, "one page of 100 holds all", len(all.Transcript), len(ids))
	at := *all.Transcript[len(all.Transcript)-1].AbsoluteTime
	pages = page(cp.GetTranscriptInput{StartPosition: &cp.StartPosition{AbsoluteTime: v1aws.String(at)}, ScanDirection: v1aws.String("BACKWARD"), MaxResults: v1aws.Int64(100)})
	equal(t, "backward from the last time", len(flat(pages)), len(ids))

	errCases := []struct {
		name string
		in   cp.GetTranscriptInput
	}{
		{"FORWARD without a start position", cp.GetTranscriptInput{ScanDirection: v1aws.String("FORWARD"), StartPosition: &cp.StartPosition{}}},
		{"two start fields", cp.GetTranscriptInput{StartPosition: &cp.StartPosition{Id: v1aws.String(ids[0]), MostRecent: v1aws.Int64(1)}}},
		{"bad time", cp.GetTranscriptInput{StartPosition: &cp.StartPosition{AbsoluteTime: v1aws.String("yesterday")}}},
		{"unknown start id", cp.GetTranscriptInput{StartPosition: &cp.StartPosition{Id: v1aws.String("nope")}}},
		{"forged NextToken", cp.GetTranscriptInput{NextToken: v1aws.String("eyJjIjoieCIsInMiOjEsImYiOnRydWV9.AAAA")}},
		{"MaxResults over 100", cp.GetTranscriptInput{MaxResults: v1aws.Int64(101)}},
	}
	for _, tc := range errCases {
		tc.in.ConnectionToken = v1aws.String(tok)
		_, err := pc.GetTranscript(&tc.in)
		wantCode(t, tc.name, err, "ValidationException", http.StatusBadRequest)
	}
	_, err := pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok), ContactId: v1aws.String("someone-elses-contact")})
	wantCode(t, "another contact's transcript", err, "AccessDeniedException", http.StatusForbidden)
}

func TestDisconnectEndsChat(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat, agent, custTok, agentTok := ts.withAgent(t)

	if _, err := pc.DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(custTok), ClientToken: v1aws.String("bye-1")}); err != nil {
		t.Fatal(err)
	}
	// A retry of the same disconnect succeeds; anything new is refused.
	if _, err := pc.DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(custTok), ClientToken: v1aws.String("bye-1")}); err != nil {
		t.Errorf("retried disconnect: %v", err)
	}
	_, err := pc.DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(custTok), ClientToken: v1aws.String("bye-2")})
	wantCode(t, "second disconnect", err, "AccessDeniedException", http.StatusForbidden)
	for name, call := range map[string]func() error{
		"agent SendMessage": func() error {
			_, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(agentTok), ContentType: v1aws.String("text/plain"), Content: v1aws.String("hello?")})
			return err
		},
		"agent SendEvent": func() error {
			_, err := pc.SendEvent(&cp.SendEventInput{ConnectionToken: v1aws.String(agentTok), ContentType: v1aws.String("application/vnd.amazonaws.connect.event.typing")})
			return err
		},
		"agent GetTranscript": func() error {
			_, err := pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok)})
			return err
		},
		"new connection": func() error {
			_, err := pc.CreateParticipantConnection(&cp.CreateParticipantConnectionInput{ParticipantToken: v1aws.String(agent.ParticipantToken), Type: v1aws.StringSlice([]string{"WEBSOCKET"})})
			return err
		},
	} {
		wantCode(t, name+" after the chat ended", call(), "AccessDeniedException", http.StatusForbidden)
	}
	d, err := ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "DisconnectReason", aws.ToString(d.Contact.DisconnectReason), "CUSTOMER_DISCONNECT")
}

func TestAgentLeavingEndsChatWhenLastAgent(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	chat := ts.startChat(t, nil)
	a1 := ts.connectionToken(t, ts.addAgent(t, chat.ContactID).ParticipantToken)
	a2 := ts.connectionToken(t, ts.addAgent(t, chat.ContactID).ParticipantToken)
	cust := ts.connectionToken(t, chat.ParticipantToken)

	must[*cp.DisconnectParticipantOutput](t)(pc.DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(a1)}))
	if _, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(cust), ContentType: v1aws.String("text/plain"), Content: v1aws.String("still here")}); err != nil {
		t.Fatalf("chat ended while an agent remained: %v", err)
	}
	must[*cp.DisconnectParticipantOutput](t)(pc.DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(a2)}))
	_, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(cust), ContentType: v1aws.String("text/plain"), Content: v1aws.String("hello?")})
	wantCode(t, "after the last agent left", err, "AccessDeniedException", http.StatusForbidden)
}

func TestAttachmentOperationsValidate(t *testing.T) {
	ts := startServer(t)
	pc := ts.participantClient()
	tok := ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)

	// aws-sdk-go v1 checks minimums itself, so a zero size goes raw.
	resp, _ := rawRequest(t, "POST", ts.URL+"/participant/start-attachment-upload", map[string]string{"X-Amz-Bearer": tok},
		`{"AttachmentName":"a.txt","AttachmentSizeInBytes":0,"ContentType":"text/plain","ClientToken":"c"}`)
	equal(t, "zero size", resp.Header.Get("X-Amzn-ErrorType"), "ValidationException")
	_, err := pc.StartAttachmentUpload(&cp.StartAttachmentUploadInput{ConnectionToken: v1aws.String(tok), AttachmentName: v1aws.String(strings.Repeat("n", 257)),
		AttachmentSizeInBytes: v1aws.Int64(3), ContentType: v1aws.String("text/plain"), ClientToken: v1aws.String("c")})
	wantCode(t, "long name", err, "ValidationException", http.StatusBadRequest)
	_, err = pc.CompleteAttachmentUpload(&cp.CompleteAttachmentUploadInput{ConnectionToken: v1aws.String(tok), AttachmentIds: v1aws.StringSlice([]string{"a", "b"}), ClientToken: v1aws.String("c")})
	wantCode(t, "two ids", err, "ValidationException", http.StatusBadRequest)
	// The v1 SDK predates UrlExpiryInSeconds; send it raw.
	resp, body := rawRequest(t, "POST", ts.URL+"/participant/attachment", map[string]string{"X-Amz-Bearer": tok, "Content-Type": "application/json"},
		`{"AttachmentId":"a","UrlExpiryInSeconds":301}`)
	equal(t, "expiry over 300: status", resp.StatusCode, http.StatusBadRequest)
	equal(t, "expiry over 300: type", resp.Header.Get("X-Amzn-ErrorType"), "ValidationException")
	if !strings.Contains(string(body), `"Message":"1 validation error detected`) {
		t.Errorf("expiry over 300: body %s", body)
	}
	_, err = pc.GetAttachment(&cp.GetAttachmentInput{ConnectionToken: v1aws.String("forged"), AttachmentId: v1aws.String("a")})
	wantCode(t, "forged token", err, "AccessDeniedException", http.StatusForbidden)
}

func TestDescribeViewAndAuthentication(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "views"), 0o700)
	view := map[string]any{"Id": "order-form", "Name": "Order form", "Version": 3,
		"Content": map[string]any{"Template": `{"Head":{"Title":"Order"}}`, "InputSchema": "{}", "Actions": []string{"Submit", "Cancel"}}}
	b, _ := json.Marshal(view)
	if err := os.WriteFile(filepath.Join(dir, "views", "order form.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServerIn(t, dir)
	pc := ts.participantClient()
	tok := ts.connectionToken(t, ts.startChat(t, nil).ParticipantToken)

	// "order form" travels as order%20form: the route must match escaped paths.
	out, err := pc.DescribeView(&cp.DescribeViewInput{ConnectionToken: v1aws.String(tok), ViewToken: v1aws.String("order form")})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "View.Id", *out.View.Id, "order-form")
	equal(t, "View.Version", *out.View.Version, int64(3))
	equal(t, "View.Content.Actions", strings.Join(v1aws.StringValueSlice(out.View.Content.Actions), ","), "Submit,Cancel")

	_, err = pc.DescribeView(&cp.DescribeViewInput{ConnectionToken: v1aws.String(tok), ViewToken: v1aws.String("a/b")})
	wantCode(t, "unknown view", err, "ResourceNotFoundException", http.StatusNotFound)

	// aws-sdk-go v1 predates the authentication operations; the JS client
	// test drives them with the official client, these check the raw wire.
	auth := map[string]string{"X-Amz-Bearer": tok, "Content-Type": "application/json"}
	resp, _ := rawRequest(t, "POST", ts.URL+"/participant/authentication-url", auth,
		`{"SessionId":"0123456789abcdef0123456789abcdef0123","RedirectUri":"https://example.com/back"}`)
	equal(t, "authentication URL without an identity provider", resp.Header.Get("X-Amzn-ErrorType"), "ValidationException")
	resp, _ = rawRequest(t, "POST", ts.URL+"/participant/cancel-authentication", auth, `{"SessionId":"short"}`)
	equal(t, "session id of the wrong length", resp.Header.Get("X-Amzn-ErrorType"), "ValidationException")
	resp, _ = rawRequest(t, "POST", ts.URL+"/participant/cancel-authentication", map[string]string{"X-Amz-Bearer": "forged"},
		`{"SessionId":"0123456789abcdef0123456789abcdef0123"}`)
	equal(t, "cancel with a forged token", resp.StatusCode, http.StatusForbidden)
}
