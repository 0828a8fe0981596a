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
)

// TestContactAttributes: GetContactAttributes and UpdateContactAttributes
// with the official Go client, Connect's limits, ended contacts, and the
// console's view of them.
func TestContactAttributes(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	chat := ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"plan": "pro", "order": "1"}})
	update := func(attrs map[string]string) error {
		_, err := cc.UpdateContactAttributes(ctx, &connect.UpdateContactAttributesInput{InstanceId: aws.String(ts.InstanceID),
			InitialContactId: aws.String(chat.ContactID), Attributes: attrs})
		return err
	}
	get := func() map[string]string {
		t.Helper()
		out := must[*connect.GetContactAttributesOutput](t)(cc.GetContactAttributes(ctx, &connect.GetContactAttributesInput{
			InstanceId: aws.String(ts.InstanceID), InitialContactId: aws.String(chat.ContactID)}))
		return out.Attributes
	}

	if err := update(map[string]string{"order": "1234", "priority_level-2": "high"}); err != nil {
		t.Fatal(err)
	}
	got := get()
	equal(t, "kept attribute", got["plan"], "pro")
	equal(t, "updated attribute", got["order"], "1234")
	equal(t, "added attribute", got["priority_level-2"], "high")

	// The agent's console shows them.
	key := ts.addConsoleAgent(t, "Grace")
	as := map[string]string{"Authorization": "Bearer " + key}
	resp, _ := rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as, "")
	equal(t, "accept", resp.StatusCode, 200)
	must[error](t)(nil, update(map[string]string{"note": "VIP"}))
	_, b := rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID, as, "")
	if !strings.Contains(string(b), `"note":"VIP"`) {
		t.Errorf("the console's chat lacks the new attribute: %s", b)
	}

	// Connect's limits: 32,768 UTF-8 bytes across all attributes; keys of
	// letters, digits, dash and underscore.
	used := 0
	for k, v := range get() {
		used += len(k) + len(v)
	}
	var invalidReq *ctypes.InvalidRequestException
	if err := update(map[string]string{"big": strings.Repeat("é", (32768-used-3)/2+1)}); !errors.As(err, &invalidReq) {
		t.Errorf("attributes over 32 KB in total: %v, want InvalidRequestException", err)
	}
	if err := update(map[string]string{"big": strings.Repeat("é", (32768-used-3)/2)}); err != nil {
		t.Errorf("attributes of exactly 32 KB at most: %v", err)
	}
	var invalidParam *ctypes.InvalidParameterException
	if err := update(map[string]string{"order id": "x"}); !errors.As(err, &invalidParam) {
		t.Errorf("a key with a space: %v, want InvalidParameterException", err)
	}
	if err := update(map[string]string{"x": strings.Repeat("a", 32769)}); !errors.As(err, &invalidParam) {
		t.Errorf("one attribute over 32 KB: %v, want InvalidParameterException", err)
	}
	if _, ok := get()["order id"]; ok {
		t.Error("a refused update changed the attributes")
	}
	if err := update(map[string]string{"big": ""}); err != nil { // an empty value frees the room
		t.Fatal(err)
	}

	// Ended contacts take updates too, as on Connect.
	must[*connect.StopContactOutput](t)(cc.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	if err := update(map[string]string{"outcome": "refund"}); err != nil {
		t.Fatalf("updating an ended contact: %v", err)
	}
	equal(t, "attribute of an ended contact", get()["outcome"], "refund")
	d := must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	equal(t, "DescribeContact's attributes", d.Contact.Attributes["outcome"], "refund")
	// The update moved LastUpdateTimestamp past the end: Connect's contact
	// records say to tell a newer copy by it after update-contact-attributes.
	ended := *d.Contact.DisconnectTimestamp
	time.Sleep(20 * time.Millisecond) // timestamps have milliseconds
	if err := update(map[string]string{"outcome": "refund-2"}); err != nil {
		t.Fatal(err)
	}
	d = must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	if last := *d.Contact.LastUpdateTimestamp; !last.After(ended) {
		t.Errorf("LastUpdateTimestamp %v after an attribute update, not after the end at %v", last, ended)
	}

	var notFound *ctypes.ResourceNotFoundException
	_, err := cc.GetContactAttributes(ctx, &connect.GetContactAttributesInput{InstanceId: aws.String(ts.InstanceID), InitialContactId: aws.String("nope")})
	if !errors.As(err, &notFound) {
		t.Errorf("unknown contact: %v, want ResourceNotFoundException", err)
	}
	_, err = cc.UpdateContactAttributes(ctx, &connect.UpdateContactAttributesInput{InstanceId: aws.String("other"),
		InitialContactId: aws.String(chat.ContactID), Attributes: map[string]string{"a": "b"}})
	if !errors.As(err, &notFound) {
		t.Errorf("another instance: %v, want ResourceNotFoundException", err)
	}
}

// TestCustomBotRules: custom participants as the admin guide has them: one
// at a time, only while no agent is present, and disconnected when an agent
// joins.
func TestCustomBotRules(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	addBot := func(contactID string) (*connect.CreateParticipantOutput, error) {
		return cc.CreateParticipant(ctx, &connect.CreateParticipantInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID),
			ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot, DisplayName: aws.String("Bot")}})
	}
	chat := ts.startChat(t, nil)
	bot := must[*connect.CreateParticipantOutput](t)(addBot(chat.ContactID))
	botTok := ts.connectionToken(t, *bot.ParticipantCredentials.ParticipantToken)
	pc := ts.participantClient()
	sendAs := func(tok, text string) error {
		_, err := pc.SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tok), ContentType: v1aws.String("text/plain"), Content: v1aws.String(text)})
		return err
	}
	if err := sendAs(botTok, "Hi, I am a bot"); err != nil {
		t.Fatal(err)
	}
	var quota *ctypes.ServiceQuotaExceededException
	if _, err := addBot(chat.ContactID); !errors.As(err, &quota) {
		t.Errorf("a second custom bot: %v, want ServiceQuotaExceededException", err)
	}

	// An agent joins: the bot is disconnected, and says so in the transcript.
	agent := ts.addAgent(t, chat.ContactID)
	if err := sendAs(botTok, "still here?"); err == nil {
		t.Error("the bot could send after an agent joined")
	} else {
		wantCode(t, "bot after the agent joined", err, "AccessDeniedException", http.StatusForbidden)
	}
	agentTok := ts.connectionToken(t, agent.ParticipantToken)
	tr := must[*cp.GetTranscriptOutput](t)(pc.GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(agentTok),
		SortOrder: v1aws.String("ASCENDING"), MaxResults: v1aws.Int64(20)}))
	var events []string
	for _, it := range tr.Transcript {
		if *it.Type == "EVENT" {
			events = append(events, v1aws.StringValue(it.ParticipantRole)+" "+v1aws.StringValue(it.ContentType))
		}
	}
	want := "CUSTOMER application/vnd.amazonaws.connect.event.participant.joined," +
		"CUSTOM_BOT application/vnd.amazonaws.connect.event.participant.joined," +
		"CUSTOM_BOT application/vnd.amazonaws.connect.event.participant.left," +
		"AGENT application/vnd.amazonaws.connect.event.participant.joined"
	equal(t, "events", strings.Join(events, ","), want)

	// No custom bot while an agent is present.
	var conflict *ctypes.ConflictException
	if _, err := addBot(chat.ContactID); !errors.As(err, &conflict) {
		t.Errorf("a custom bot next to an agent: %v, want ConflictException", err)
	}
	// The chat goes on.
	if err := sendAs(agentTok, "Hello, I am Grace"); err != nil {
		t.Fatal(err)
	}
}
