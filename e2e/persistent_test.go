package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley/contact"
	"github.com/parleychat/parley/internal/testfiles"
)

// endedChat starts a chat, has its customer say something, and stops it.
func (ts *testServer) endedChat(t *testing.T, said string, attrs map[string]string) chatDetails {
	t.Helper()
	chat := ts.startChat(t, &connect.StartChatContactInput{Attributes: attrs})
	tok := ts.connectionToken(t, chat.ParticipantToken)
	if _, err := ts.participantClient().SendMessage(sendInput(tok, said)); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.connectClient().StopContact(context.Background(), stopInput(ts, chat.ContactID)); err != nil {
		t.Fatal(err)
	}
	return chat
}

func persistent(typ ctypes.RehydrationType, source string) *connect.StartChatContactInput {
	return &connect.StartChatContactInput{PersistentChat: &ctypes.PersistentChat{RehydrationType: typ, SourceContactId: aws.String(source)}}
}

// transcriptTexts reads a participant's whole transcript, oldest first, as
// "contact:content" for messages and the event's last word for events.
// The contact is the item's ContactId, or for an item of a past session
// its RelatedContactId with a "past " before it: Connect's Item sets
// ContactId "only when the transcript item is from the current chat
// session" and RelatedContactId only "when the transcript item is from the
// past chat session".
func (ts *testServer) transcriptTexts(t *testing.T, connToken, contactID string) []string {
	t.Helper()
	in := &cp.GetTranscriptInput{ConnectionToken: v1aws.String(connToken), SortOrder: v1aws.String("ASCENDING"),
		ScanDirection: v1aws.String("BACKWARD"), MaxResults: v1aws.Int64(100)}
	if contactID != "" {
		in.ContactId = v1aws.String(contactID)
	}
	out, err := ts.participantClient().GetTranscript(in)
	if err != nil {
		t.Fatalf("GetTranscript: %v", err)
	}
	var got []string
	for _, it := range out.Transcript {
		if (it.ContactId == nil) == (it.RelatedContactId == nil) {
			t.Errorf("item %s has ContactId %v and RelatedContactId %v: want exactly one", v1aws.StringValue(it.Id),
				v1aws.StringValue(it.ContactId), v1aws.StringValue(it.RelatedContactId))
			continue
		}
		from := v1aws.StringValue(it.ContactId)
		if it.RelatedContactId != nil {
			from = "past " + *it.RelatedContactId
		}
		switch *it.Type {
		case "MESSAGE":
			got = append(got, from+":"+*it.Content)
		case "EVENT":
			ct := *it.ContentType
			got = append(got, ct[strings.LastIndex(ct, "event.")+len("event."):])
		}
	}
	return got
}

// TestPersistentChat: StartChatContact's PersistentChat and
// CreatePersistentContactAssociation with the official Go client: from
// ended chats only, each source once, the links in DescribeContact, and
// the transcript carrying the past sessions, readable back along the chain.
func TestPersistentChat(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	past := ts.endedChat(t, "my parcel is late", map[string]string{"order": "42"})

	// Connect's refusals, each changing nothing.
	live := ts.startChat(t, nil)
	var invalidReq *ctypes.InvalidRequestException
	var invalidParam *ctypes.InvalidParameterException
	var notFound *ctypes.ResourceNotFoundException
	start := func(in *connect.StartChatContactInput) (*connect.StartChatContactOutput, error) {
		in.InstanceId, in.ContactFlowId = aws.String(ts.InstanceID), aws.String("flow")
		in.ParticipantDetails = &ctypes.ParticipantDetails{DisplayName: aws.String("Ada")}
		return cc.StartChatContact(ctx, in)
	}
	for _, tc := range []struct {
		what string
		in   *connect.StartChatContactInput
		want any
	}{
		{"a live source", persistent(ctypes.RehydrationTypeFromSegment, live.ContactID), &invalidReq},
		{"an unknown source", persistent(ctypes.RehydrationTypeEntirePastSession, "00000000-0000-0000-0000-000000000000"), &notFound},
		{"no rehydration type", persistent("", past.ContactID), &invalidParam},
		{"a rehydration type Connect lacks", persistent("EVERYTHING", past.ContactID), &invalidParam},
		{"no source", &connect.StartChatContactInput{PersistentChat: &ctypes.PersistentChat{RehydrationType: ctypes.RehydrationTypeFromSegment}}, &invalidParam},
		{"both RelatedContactId and PersistentChat", func() *connect.StartChatContactInput {
			in := persistent(ctypes.RehydrationTypeFromSegment, past.ContactID)
			in.RelatedContactId = aws.String(past.ContactID)
			return in
		}(), &invalidParam},
	} {
		_, err := start(tc.in)
		if !errors.As(err, tc.want) {
			t.Errorf("%s: %v, want %T", tc.what, err, tc.want)
		}
	}

	// ENTIRE_PAST_SESSION from the initial contact of the past session.
	out, err := start(persistent(ctypes.RehydrationTypeEntirePastSession, past.ContactID))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ContinuedFromContactId", aws.ToString(out.ContinuedFromContactId), past.ContactID)
	next := chatDetails{ContactID: *out.ContactId, ParticipantID: *out.ParticipantId, ParticipantToken: *out.ParticipantToken}
	d := must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(next.ContactID)}))
	equal(t, "RelatedContactId", aws.ToString(d.Contact.RelatedContactId), past.ContactID)
	equal(t, "InitialContactId", aws.ToString(d.Contact.InitialContactId), next.ContactID)
	equal(t, "attributes carried forward", d.Contact.Attributes["order"], "42")

	// A source is continued once.
	if _, err := start(persistent(ctypes.RehydrationTypeFromSegment, past.ContactID)); !errors.As(err, &invalidReq) {
		t.Errorf("a source continued twice: %v, want InvalidRequestException", err)
	}

	tok := ts.connectionToken(t, next.ParticipantToken)
	if _, err := ts.participantClient().SendMessage(sendInput(tok, "still waiting")); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ts.transcriptTexts(t, tok, ""), " | ")
	want := "past " + past.ContactID + ":my parcel is late"
	if !strings.Contains(got, want) || !strings.Contains(got, next.ContactID+":still waiting") ||
		strings.Index(got, want) > strings.Index(got, next.ContactID+":still waiting") {
		t.Errorf("the persistent chat's transcript lacks the past session before its own: %s", got)
	}
	// ContactId reads back along the chain: the past contact alone.
	got = strings.Join(ts.transcriptTexts(t, tok, past.ContactID), " | ")
	if !strings.Contains(got, want) || strings.Contains(got, "still waiting") {
		t.Errorf("GetTranscript ContactId=past: %s", got)
	}
	_, err = ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok), ContactId: v1aws.String(live.ContactID)})
	var denied *cp.AccessDeniedException
	if !errors.As(err, &denied) {
		t.Errorf("GetTranscript of a contact outside the chain: %v, want AccessDeniedException", err)
	}

	// CreatePersistentContactAssociation continues a live chat from the
	// ended persistent one: the chain is now three contacts long.
	if _, err := cc.StopContact(ctx, stopInput(ts, next.ContactID)); err != nil {
		t.Fatal(err)
	}
	assoc := func(contactID, source string, typ ctypes.RehydrationType) (*connect.CreatePersistentContactAssociationOutput, error) {
		return cc.CreatePersistentContactAssociation(ctx, &connect.CreatePersistentContactAssociationInput{
			InstanceId: aws.String(ts.InstanceID), InitialContactId: aws.String(contactID),
			RehydrationType: typ, SourceContactId: aws.String(source)})
	}
	if _, err := assoc(live.ContactID, "00000000-0000-0000-0000-000000000000", ctypes.RehydrationTypeFromSegment); !errors.As(err, &notFound) {
		t.Errorf("association with an unknown source: %v, want ResourceNotFoundException", err)
	}
	if _, err := assoc(next.ContactID, past.ContactID, ctypes.RehydrationTypeFromSegment); !errors.As(err, &invalidReq) {
		t.Errorf("association on an ended contact: %v, want InvalidRequestException", err)
	}
	a, err := assoc(live.ContactID, next.ContactID, ctypes.RehydrationTypeFromSegment)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "association's ContinuedFromContactId", aws.ToString(a.ContinuedFromContactId), next.ContactID)
	if _, err := assoc(live.ContactID, past.ContactID, ctypes.RehydrationTypeFromSegment); !errors.As(err, &invalidReq) {
		t.Errorf("a second association: %v, want InvalidRequestException", err)
	}
	liveTok := ts.connectionToken(t, live.ParticipantToken)
	got = strings.Join(ts.transcriptTexts(t, liveTok, ""), " | ")
	if !strings.Contains(got, want) || !strings.Contains(got, "still waiting") || !strings.HasSuffix(got, "chat.rehydrated") {
		t.Errorf("the associated chat's transcript lacks the chain or its chat.rehydrated: %s", got)
	}
	d = must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(live.ContactID)}))
	equal(t, "associated RelatedContactId", aws.ToString(d.Contact.RelatedContactId), next.ContactID)
}

// TestChatJSChatRehydrated: ChatJS's onChatRehydrated fires for the
// customer of a persistent chat, once, and its getTranscript holds the past.
func TestChatJSChatRehydrated(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	past := ts.endedChat(t, "first visit", nil)
	chat := ts.startChat(t, persistent(ctypes.RehydrationTypeFromSegment, past.ContactID))
	customer := newPeer(t, "customer", ts.URL, chat)
	customer.mustCall("connect", nil)
	customer.waitFor("onChatRehydrated", 10*time.Second, isEvent("onChatRehydrated"))
	res := string(customer.mustCall("getTranscript", map[string]any{"scanDirection": "BACKWARD", "sortOrder": "ASCENDING", "maxResults": 15}))
	if !strings.Contains(res, "first visit") {
		t.Errorf("ChatJS's transcript of the persistent chat lacks the past session: %s", res)
	}
	// A second connection of the customer does not rehydrate again.
	again := newPeer(t, "customer again", ts.URL, chat)
	again.mustCall("connect", nil)
	for _, ev := range again.drain(2 * time.Second) {
		if ev.Event == "onChatRehydrated" {
			t.Error("chat.rehydrated was announced twice")
		}
	}
}

// TestSDKContactCalls: the Go SDK's contact package drives persistent
// chat, supervisors and streaming through aws-sdk-go-v2.
func TestSDKContactCalls(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	past := ts.endedChat(t, "earlier", nil)
	d, from, err := contact.Continue(ctx, cc, &contact.ContinueInput{Start: startInput(ts), SourceContactID: past.ContactID, EntirePastSession: true})
	if err != nil || from != past.ContactID || d.ParticipantToken == "" {
		t.Fatalf("Continue: %+v %q %v", d, from, err)
	}
	agent, err := contact.Join(ctx, cc, &contact.JoinInput{InstanceID: ts.InstanceID, ContactID: d.ContactID, Role: ctypes.ParticipantRoleAgent})
	if err != nil || agent.ParticipantToken == "" {
		t.Fatalf("Join: %v", err)
	}
	sam := ts.signIn(t, "Sam")
	if err := contact.Monitor(ctx, cc, &contact.MonitorInput{InstanceID: ts.InstanceID, ContactID: d.ContactID, UserID: sam.id, Barge: true}); err != nil {
		t.Errorf("Monitor: %v", err)
	}
	var invalid *ctypes.InvalidRequestException
	if _, err := contact.StartStreaming(ctx, cc, ts.InstanceID, d.ContactID, "arn:aws:sns:us-east-1:000000000000:none"); !errors.As(err, &invalid) {
		t.Errorf("StartStreaming without an endpoint: %v, want InvalidRequestException", err)
	}
}

// TestPersistentTranscriptPaging: a chain of three chats pages as one
// transcript, oldest first, in either direction, page by page.
func TestPersistentTranscriptPaging(t *testing.T) {
	ts := startServer(t)
	first := ts.endedChat(t, "m1", nil)
	second := ts.startChat(t, persistent(ctypes.RehydrationTypeFromSegment, first.ContactID))
	tok2 := ts.connectionToken(t, second.ParticipantToken)
	for _, m := range []string{"m2", "m3"} {
		if _, err := ts.participantClient().SendMessage(sendInput(tok2, m)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.connectClient().StopContact(context.Background(), stopInput(ts, second.ContactID)); err != nil {
		t.Fatal(err)
	}
	third := ts.startChat(t, persistent(ctypes.RehydrationTypeFromSegment, second.ContactID))
	tok3 := ts.connectionToken(t, third.ParticipantToken)
	for _, m := range []string{"m4", "m5"} {
		if _, err := ts.participantClient().SendMessage(sendInput(tok3, m)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(in *cp.GetTranscriptInput) []string {
		var got []string
		in.ConnectionToken, in.MaxResults = v1aws.String(tok3), v1aws.Int64(2)
		for page := 0; page < 20; page++ {
			out, err := ts.participantClient().GetTranscript(in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Transcript {
				if *it.Type == "MESSAGE" {
					got = append(got, *it.Content)
				}
			}
			if out.NextToken == nil {
				return got
			}
			in.NextToken = out.NextToken
		}
		t.Fatal("paging does not end")
		return nil
	}
	backward := read(&cp.GetTranscriptInput{SortOrder: v1aws.String("DESCENDING")})
	equal(t, "backward through the chain", strings.Join(backward, ","), "m5,m4,m3,m2,m1")
	forward := read(&cp.GetTranscriptInput{ScanDirection: v1aws.String("FORWARD"), SortOrder: v1aws.String("ASCENDING"),
		StartPosition: &cp.StartPosition{AbsoluteTime: v1aws.String("2000-01-01T00:00:00.000Z")}})
	equal(t, "forward through the chain", strings.Join(forward, ","), "m1,m2,m3,m4,m5")
	recent := read(&cp.GetTranscriptInput{SortOrder: v1aws.String("ASCENDING"), StartPosition: &cp.StartPosition{MostRecent: v1aws.Int64(20)}})
	equal(t, "from the most recent 20", strings.Join(recent, ","), "m1,m2,m3,m4,m5")
}

// TestPersistentChatPastAttachments: an attachment sent in a past session
// is in the persistent chat's transcript, so its participants can
// download it; a participant of an unrelated chat still cannot.
func TestPersistentChatPastAttachments(t *testing.T) {
	ts := startServer(t)
	first := ts.startChat(t, nil)
	tok1 := ts.connectionToken(t, first.ParticipantToken)
	f := testfiles.File{Name: "receipt.pdf", Type: "application/pdf", Data: testfiles.PDF("Receipt 42")}
	id := upload(t, ts, tok1, f)
	attachmentURL(t, ts, tok1, id, 60) // approved
	if _, err := ts.connectClient().StopContact(context.Background(), stopInput(ts, first.ContactID)); err != nil {
		t.Fatal(err)
	}

	second := ts.startChat(t, persistent(ctypes.RehydrationTypeEntirePastSession, first.ContactID))
	tok2 := ts.connectionToken(t, second.ParticipantToken)
	out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(tok2),
		SortOrder: v1aws.String("ASCENDING"), MaxResults: v1aws.Int64(100)})
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, it := range out.Transcript {
		for _, a := range it.Attachments {
			listed = listed || (v1aws.StringValue(a.AttachmentId) == id && v1aws.StringValue(it.RelatedContactId) == first.ContactID)
		}
	}
	if !listed {
		t.Fatalf("the persistent chat's transcript lacks the past session's attachment %s", id)
	}
	resp, body := rawRequest(t, "GET", attachmentURL(t, ts, tok2, id, 60), nil, "")
	equal(t, "download status", resp.StatusCode, 200)
	equal(t, "download bytes", string(body) == string(f.Data), true)

	other := ts.startChat(t, nil)
	_, err = ts.participantClient().GetAttachment(&cp.GetAttachmentInput{
		ConnectionToken: v1aws.String(ts.connectionToken(t, other.ParticipantToken)), AttachmentId: v1aws.String(id)})
	wantCode(t, "an unrelated chat's participant", err, "AccessDeniedException", http.StatusForbidden)
}
