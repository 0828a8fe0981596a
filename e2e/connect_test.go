package e2e

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/aws/smithy-go"
)

func TestConnectChatLifecycle(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()

	chat := ts.startChat(t, &connect.StartChatContactInput{
		Attributes:     map[string]string{"customerTier": "gold"},
		InitialMessage: &ctypes.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("Hello, I need help")},
	})
	before := time.Now().Add(-time.Minute)

	d, err := cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Contact
	equal(t, "Id", *c.Id, chat.ContactID)
	equal(t, "InitialContactId", *c.InitialContactId, chat.ContactID)
	equal(t, "Channel", c.Channel, ctypes.ChannelChat)
	equal(t, "InitiationMethod", c.InitiationMethod, ctypes.ContactInitiationMethodApi)
	equal(t, "Attributes[customerTier]", c.Attributes["customerTier"], "gold")
	if c.InitiationTimestamp == nil || c.InitiationTimestamp.Before(before) {
		t.Errorf("InitiationTimestamp = %v", c.InitiationTimestamp)
	}
	if c.QueueInfo == nil || c.QueueInfo.Id == nil {
		t.Errorf("a new chat waits in a queue; QueueInfo = %+v", c.QueueInfo)
	}
	if c.AgentInfo != nil || c.DisconnectTimestamp != nil {
		t.Errorf("a new chat has no agent and is not disconnected: %+v %v", c.AgentInfo, c.DisconnectTimestamp)
	}
	if !strings.HasPrefix(*c.Arn, "arn:aws:connect:us-east-1:") || !strings.HasSuffix(*c.Arn, "/contact/"+chat.ContactID) {
		t.Errorf("Arn = %s", *c.Arn)
	}

	bot, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
		ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot, DisplayName: aws.String("Helper bot")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *bot.ParticipantId == "" || *bot.ParticipantCredentials.ParticipantToken == "" || *bot.ParticipantCredentials.Expiry == "" {
		t.Errorf("CreateParticipant = %+v", bot)
	}

	agent := ts.addAgent(t, chat.ContactID)
	d = must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	if d.Contact.AgentInfo == nil || *d.Contact.AgentInfo.Id != agent.ParticipantID || d.Contact.AgentInfo.ConnectedToAgentTimestamp == nil {
		t.Errorf("after an agent joins, AgentInfo = %+v", d.Contact.AgentInfo)
	}

	if _, err := cc.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}); err != nil {
		t.Fatal(err)
	}
	d = must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	if d.Contact.DisconnectTimestamp == nil || *d.Contact.DisconnectReason != "API" {
		t.Errorf("after StopContact: DisconnectTimestamp %v, reason %v", d.Contact.DisconnectTimestamp, d.Contact.DisconnectReason)
	}

	// A stopped chat cannot be stopped again, nor joined.
	_, err = cc.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)})
	var gone *ctypes.ContactNotFoundException
	if !errors.As(err, &gone) {
		t.Errorf("StopContact twice: %v, want ContactNotFoundException", err)
	}
	_, err = cc.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
		ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot},
	})
	var invalid *ctypes.InvalidRequestException
	if !errors.As(err, &invalid) {
		t.Errorf("CreateParticipant on an ended chat: %v, want InvalidRequestException", err)
	}
}

func TestConnectErrors(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	chat := ts.startChat(t, nil)

	tests := []struct {
		name string
		call func() error
		want any
	}{
		{"unknown contact", func() error {
			_, err := cc.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String("no-such-contact")})
			return err
		}, &ctypes.ResourceNotFoundException{}},
		{"unknown instance", func() error {
			_, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String("other"), ContactFlowId: aws.String("f"),
				ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")}})
			return err
		}, &ctypes.ResourceNotFoundException{}},
		{"duration out of range", func() error {
			_, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
				ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")}, ChatDurationInMinutes: aws.Int32(59)})
			return err
		}, &ctypes.InvalidParameterException{}},
		{"content types without text/plain", func() error {
			_, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
				ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")}, SupportedMessagingContentTypes: []string{"text/markdown"}})
			return err
		}, &ctypes.InvalidParameterException{}},
		{"initial message of an unsupported type", func() error {
			_, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
				ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")},
				InitialMessage:     &ctypes.ChatMessage{ContentType: aws.String("text/markdown"), Content: aws.String("**hi**")}})
			return err
		}, &ctypes.InvalidRequestException{}},
		{"customer role cannot be added", func() error {
			_, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
				ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomer}})
			return err
		}, &ctypes.InvalidRequestException{}},
		// CreateParticipant and GetContactAttributes declare no
		// InvalidParameterException: their model-constraint violations are
		// InvalidRequestException (anything else the SDK cannot type).
		{"participant name over 256 characters", func() error {
			_, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
				ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot, DisplayName: aws.String(strings.Repeat("b", 257))}})
			return err
		}, &ctypes.InvalidRequestException{}},
		{"participant role Connect lacks", func() error {
			_, err := cc.CreateParticipant(ctx, &connect.CreateParticipantInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
				ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: "ROBOT"}})
			return err
		}, &ctypes.InvalidRequestException{}},
		{"attributes of a contact id over 256 characters", func() error {
			_, err := cc.GetContactAttributes(ctx, &connect.GetContactAttributesInput{InstanceId: aws.String(ts.InstanceID), InitialContactId: aws.String(strings.Repeat("c", 257))})
			return err
		}, &ctypes.InvalidRequestException{}},
		{"stop unknown contact", func() error {
			_, err := cc.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String("nope")})
			return err
		}, &ctypes.ResourceNotFoundException{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil {
				t.Fatal("no error")
			}
			switch want := tt.want.(type) {
			case *ctypes.ResourceNotFoundException:
				if !errors.As(err, &want) {
					t.Errorf("got %v, want ResourceNotFoundException", err)
				}
			case *ctypes.InvalidParameterException:
				if !errors.As(err, &want) {
					t.Errorf("got %v, want InvalidParameterException", err)
				}
			case *ctypes.InvalidRequestException:
				if !errors.As(err, &want) {
					t.Errorf("got %v, want InvalidRequestException", err)
				}
			}
		})
	}
}

func TestConnectParticipantQuota(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	for range 5 {
		ts.addAgent(t, chat.ContactID)
	}
	_, err := ts.connectClient().CreateParticipant(context.Background(), &connect.CreateParticipantInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
		ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleAgent},
	})
	var quota *ctypes.ServiceQuotaExceededException
	if !errors.As(err, &quota) {
		t.Errorf("seventh participant: %v, want ServiceQuotaExceededException", err)
	}
}

func TestConnectIdempotency(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	in := func() *connect.StartChatContactInput {
		return &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
			ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")}, ClientToken: aws.String("retry-1")}
	}
	a := must[*connect.StartChatContactOutput](t)(cc.StartChatContact(ctx, in()))
	b := must[*connect.StartChatContactOutput](t)(cc.StartChatContact(ctx, in()))
	equal(t, "ContactId of retry", *b.ContactId, *a.ContactId)
	equal(t, "ParticipantToken of retry", *b.ParticipantToken, *a.ParticipantToken)

	pin := func() *connect.CreateParticipantInput {
		return &connect.CreateParticipantInput{InstanceId: aws.String(ts.InstanceID), ContactId: a.ContactId, ClientToken: aws.String("join-1"),
			ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleAgent}}
	}
	p1 := must[*connect.CreateParticipantOutput](t)(cc.CreateParticipant(ctx, pin()))
	p2 := must[*connect.CreateParticipantOutput](t)(cc.CreateParticipant(ctx, pin()))
	equal(t, "ParticipantId of retry", *p2.ParticipantId, *p1.ParticipantId)

	// The retried chat still has one customer and one agent, and works.
	ct := ts.connectionToken(t, *b.ParticipantToken)
	if ct == "" {
		t.Fatal("no connection token")
	}
}

func TestConnectSignatureVerified(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()

	// A wrong secret: the SDK signs correctly with a key the server does not have.
	_, err := connectClientWith(ts.URL, testAKID, "wrong-secret").DescribeContact(ctx,
		&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String("x")})
	assertAPIError(t, "wrong secret", err, "InvalidSignatureException", http.StatusForbidden)

	_, err = connectClientWith(ts.URL, "UNKNOWNKEY", testSecret).DescribeContact(ctx,
		&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String("x")})
	assertAPIError(t, "unknown key", err, "UnrecognizedClientException", http.StatusForbidden)

	_, err = connect.New(connect.Options{Region: testRegion, Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(ts.URL)}).
		DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String("x")})
	assertAPIError(t, "unsigned", err, "MissingAuthenticationTokenException", http.StatusForbidden)

	// Hand-signed requests: a stale date, and a body changed after signing.
	sign := func(body string, at time.Time) *http.Request {
		req, _ := http.NewRequest("PUT", ts.URL+"/contact/chat", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req,
			sha256Hex(body), "connect", testRegion, at)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	body := `{"InstanceId":"` + ts.InstanceID + `","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"x"}}`
	resp := do(t, sign(body, time.Now().Add(-10*time.Minute)))
	equal(t, "stale date status", resp.StatusCode, http.StatusForbidden)
	equal(t, "stale date type", resp.Header.Get("X-Amzn-ErrorType"), "InvalidSignatureException")

	req := sign(body, time.Now())
	tampered := strings.Replace(body, `"x"`, `"y"`, 1)
	req.Body = readCloser(tampered)
	resp = do(t, req)
	equal(t, "tampered body status", resp.StatusCode, http.StatusForbidden)

	resp = do(t, sign(body, time.Now()))
	equal(t, "correctly hand-signed status", resp.StatusCode, http.StatusOK)

	// Signed for another service.
	req, _ = http.NewRequest("PUT", ts.URL+"/contact/chat", strings.NewReader(body))
	v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}, req, sha256Hex(body), "execute-api", testRegion, time.Now())
	resp = do(t, req)
	equal(t, "wrong service status", resp.StatusCode, http.StatusForbidden)
}

func assertAPIError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Errorf("%s: %v, want API error %s", what, err, code)
		return
	}
	equal(t, what+" code", apiErr.ErrorCode(), code)
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		equal(t, what+" status", re.HTTPStatusCode(), status)
	}
}

func TestConnectUpdateParticipantRoleConfig(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	chat := ts.startChat(t, nil)
	timer := func(role ctypes.TimerEligibleParticipantRoles, typ ctypes.ParticipantTimerType, v ctypes.ParticipantTimerValue) ctypes.ParticipantTimerConfiguration {
		return ctypes.ParticipantTimerConfiguration{ParticipantRole: role, TimerType: typ, TimerValue: v}
	}
	update := func(contactID string, timers ...ctypes.ParticipantTimerConfiguration) error {
		_, err := cc.UpdateParticipantRoleConfig(ctx, &connect.UpdateParticipantRoleConfigInput{
			InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID),
			ChannelConfiguration: &ctypes.UpdateParticipantRoleConfigChannelInfoMemberChat{Value: ctypes.ChatParticipantRoleConfig{ParticipantTimerConfigList: timers}},
		})
		return err
	}
	err := update(chat.ContactID,
		timer(ctypes.TimerEligibleParticipantRolesCustomer, ctypes.ParticipantTimerTypeIdle, &ctypes.ParticipantTimerValueMemberParticipantTimerDurationInMinutes{Value: 5}),
		timer(ctypes.TimerEligibleParticipantRolesAgent, ctypes.ParticipantTimerTypeDisconnectNoncustomer, &ctypes.ParticipantTimerValueMemberParticipantTimerAction{Value: ctypes.ParticipantTimerActionUnset}))
	if err != nil {
		t.Fatal(err)
	}
	err = update(chat.ContactID, timer(ctypes.TimerEligibleParticipantRolesCustomer, ctypes.ParticipantTimerTypeIdle, &ctypes.ParticipantTimerValueMemberParticipantTimerDurationInMinutes{Value: 1}))
	var invalid *ctypes.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Errorf("a 1-minute timer: %v, want InvalidParameterException", err)
	}
	err = update("nope", timer(ctypes.TimerEligibleParticipantRolesCustomer, ctypes.ParticipantTimerTypeIdle, &ctypes.ParticipantTimerValueMemberParticipantTimerDurationInMinutes{Value: 5}))
	var notFound *ctypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown contact: %v, want ResourceNotFoundException", err)
	}
}

// TestDescribeContactAgentInfo: AgentInfo.Id names the agent who accepted
// the chat as Connect names it, by the agent's user id (the UserId that
// MonitorContact takes and /agent/v1/me shows), not by the participant id
// the agent has in the chat.
func TestDescribeContactAgentInfo(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, nil)
	grace := ts.signIn(t, "Grace")
	joined := grace.accept(chat.ContactID)
	d := must[*connect.DescribeContactOutput](t)(ts.connectClient().DescribeContact(context.Background(),
		&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID)}))
	if d.Contact.AgentInfo == nil || aws.ToString(d.Contact.AgentInfo.Id) != grace.id {
		t.Errorf("AgentInfo = %+v, want Id %s (Grace's user id; her participant id is %s)", d.Contact.AgentInfo, grace.id, joined.ParticipantID)
	}
}

// TestDescribeContactCustomerAndSegments: StartChatContact's CustomerId and
// SegmentAttributes come back in DescribeContact as given, nested values
// and all; a chat without them shows neither, and a persistent chat does
// not inherit them from the contact it continues.
func TestDescribeContactCustomerAndSegments(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	describe := func(contactID string) *ctypes.Contact {
		t.Helper()
		d := must[*connect.DescribeContactOutput](t)(cc.DescribeContact(ctx,
			&connect.DescribeContactInput{InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contactID)}))
		return d.Contact
	}
	segments := map[string]ctypes.SegmentAttributeValue{
		"connect:Subtype": {ValueString: aws.String("connect:Guide")},
		"connect:ContactExpiry": {ValueMap: map[string]ctypes.SegmentAttributeValue{
			"ExpiryDuration": {ValueInteger: aws.Int32(135)},
		}},
		"routing": {ValueList: []ctypes.SegmentAttributeValue{
			{ValueArn: aws.String("arn:aws:connect:us-east-1:123456789012:instance/i/queue/q")},
			{ValueInteger: aws.Int32(0)},
		}},
		"note": {ValueString: aws.String("")},
	}
	chat := ts.startChat(t, &connect.StartChatContactInput{
		CustomerId:        aws.String("crm-0042"),
		SegmentAttributes: segments,
		SupportedMessagingContentTypes: []string{"text/plain",
			"application/vnd.amazonaws.connect.message.interactive", "application/vnd.amazonaws.connect.message.interactive.response"},
	})
	c := describe(chat.ContactID)
	equal(t, "CustomerId", aws.ToString(c.CustomerId), "crm-0042")
	if !reflect.DeepEqual(c.SegmentAttributes, segments) {
		t.Errorf("SegmentAttributes = %#v, want %#v", c.SegmentAttributes, segments)
	}

	plain := ts.startChat(t, nil)
	if c := describe(plain.ContactID); c.CustomerId != nil || c.SegmentAttributes != nil {
		t.Errorf("a chat started without them: CustomerId %v, SegmentAttributes %v", c.CustomerId, c.SegmentAttributes)
	}

	// A persistent chat has the CustomerId and segment attributes its own
	// request gives, none of its source's.
	if _, err := cc.StopContact(ctx, stopInput(ts, chat.ContactID)); err != nil {
		t.Fatal(err)
	}
	next := ts.startChat(t, &connect.StartChatContactInput{
		PersistentChat: &ctypes.PersistentChat{RehydrationType: ctypes.RehydrationTypeFromSegment, SourceContactId: aws.String(chat.ContactID)},
	})
	if c := describe(next.ContactID); c.CustomerId != nil || c.SegmentAttributes != nil {
		t.Errorf("a persistent chat inherited CustomerId %v, SegmentAttributes %v", aws.ToString(c.CustomerId), c.SegmentAttributes)
	}

	// The reference: connect:Guide needs both interactive content types.
	_, err := cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")},
		SegmentAttributes:  map[string]ctypes.SegmentAttributeValue{"connect:Subtype": {ValueString: aws.String("connect:Guide")}}})
	var invalid *ctypes.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Errorf("connect:Guide without the interactive types: %v, want InvalidParameterException", err)
	}
	_, err = cc.StartChatContact(ctx, &connect.StartChatContactInput{InstanceId: aws.String(ts.InstanceID), ContactFlowId: aws.String("f"),
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("x")}, CustomerId: aws.String(strings.Repeat("c", 129))})
	if !errors.As(err, &invalid) {
		t.Errorf("a CustomerId of 129 characters: %v, want InvalidParameterException", err)
	}
}

// TestChatWithoutCustomerConnectionEnds: as on Connect, a chat whose
// customer has not called CreateParticipantConnection within
// PARLEY_CONNECT_WITHIN of StartChatContact ends, with DisconnectReason
// CUSTOMER_CONNECTION_NOT_ESTABLISHED; an agent's connection does not
// count, and a chat whose customer connected lives on.
func TestChatWithoutCustomerConnectionEnds(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_CONNECT_WITHIN", "2s")
	connected := ts.startChat(t, nil)
	ts.connectionToken(t, connected.ParticipantToken)
	never := ts.startChat(t, nil)
	agent := ts.addAgent(t, never.ContactID)
	agentTok := ts.connectionToken(t, agent.ParticipantToken)

	describe := func(id string) ctypes.Contact {
		t.Helper()
		out, err := ts.connectClient().DescribeContact(context.Background(), &connect.DescribeContactInput{
			InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.Contact
	}
	for deadline := time.Now().Add(10 * time.Second); describe(never.ContactID).DisconnectTimestamp == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the chat whose customer never connected did not end")
		}
	}
	equal(t, "disconnect reason", aws.ToString(describe(never.ContactID).DisconnectReason), "CUSTOMER_CONNECTION_NOT_ESTABLISHED")
	if _, err := ts.participantClient().SendMessage(sendInput(agentTok, "anyone there?")); err == nil {
		t.Error("the agent could still send in the ended chat")
	}
	// By now the connected chat's 2 s have passed too, a second ago or more.
	time.Sleep(time.Second)
	if d := describe(connected.ContactID); d.DisconnectTimestamp != nil {
		t.Errorf("the chat whose customer connected ended: %s", aws.ToString(d.DisconnectReason))
	}
}
