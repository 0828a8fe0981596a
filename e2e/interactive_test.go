package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"

	"github.com/parleychat/parley"
)

const (
	interactiveType = "application/vnd.amazonaws.connect.message.interactive"
	responseType    = "application/vnd.amazonaws.connect.message.interactive.response"
)

func interactiveChat() *connect.StartChatContactInput {
	return &connect.StartChatContactInput{SupportedMessagingContentTypes: []string{"text/plain", interactiveType, responseType}}
}

func elements(n int) string {
	var e []string
	for i := range n {
		e = append(e, fmt.Sprintf(`{"title":"option %d"}`, i+1))
	}
	return "[" + strings.Join(e, ",") + "]"
}

func template(typ, content string) string {
	return fmt.Sprintf(`{"templateType":%q,"version":"1.0","data":{"content":%s}}`, typ, content)
}

// TestInteractiveMessages: custom bots and agents send Connect's interactive
// templates, checked as the admin guide documents them, with the official
// Go client; ChatJS hands them to the customer, who answers with an
// interactive response.
func TestInteractiveMessages(t *testing.T) {
	ts := startServer(t)
	chat := ts.startChat(t, interactiveChat())
	bot, err := ts.connectClient().CreateParticipant(t.Context(), &connect.CreateParticipantInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(chat.ContactID),
		ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot, DisplayName: aws.String("Bot")}})
	if err != nil {
		t.Fatal(err)
	}
	botTok := ts.connectionToken(t, *bot.ParticipantCredentials.ParticipantToken)
	send := func(tok, contentType, content string) error {
		_, err := ts.participantClient().SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tok),
			ContentType: v1aws.String(contentType), Content: v1aws.String(content)})
		return err
	}
	slot := `{"date":"2026-12-01T10:00+00:00","duration":30}`
	for _, tc := range []struct {
		what, content string
		ok            bool
	}{
		{"a list picker", template("ListPicker", `{"title":"Which fruit?","subtitle":"Tap one","elements":`+elements(3)+`}`), true},
		{"a list picker of six", template("ListPicker", `{"title":"Which?","elements":`+elements(6)+`}`), true},
		{"a list picker of seven", template("ListPicker", `{"title":"Which?","elements":`+elements(7)+`}`), false},
		{"a list picker without elements", template("ListPicker", `{"title":"Which?","elements":[]}`), false},
		{"a list picker without a title", template("ListPicker", `{"elements":`+elements(2)+`}`), false},
		{"an element without a title", template("ListPicker", `{"title":"Which?","elements":[{"subtitle":"x"}]}`), false},
		{"a quick reply", template("QuickReply", `{"title":"Did that help?","elements":`+elements(2)+`}`), true},
		{"a quick reply of eleven", template("QuickReply", `{"title":"?","elements":`+elements(11)+`}`), false},
		{"a panel", template("Panel", `{"title":"How can I help?","elements":`+elements(10)+`}`), true},
		{"a time picker", template("TimePicker", `{"title":"When?","timeslots":[`+slot+`]}`), true},
		{"a time picker slot without a duration", template("TimePicker", `{"title":"When?","timeslots":[{"date":"2026-12-01T10:00+00:00"}]}`), false},
		{"a carousel", template("Carousel", `{"title":"Pick","elements":[`+template("Panel", `{"title":"a","elements":`+elements(1)+`}`)+`,`+
			template("ListPicker", `{"title":"b","elements":`+elements(2)+`}`)+`]}`), true},
		{"a carousel of one", template("Carousel", `{"elements":[`+template("Panel", `{"title":"a","elements":`+elements(1)+`}`)+`]}`), false},
		{"a carousel holding a time picker", template("Carousel", `{"elements":[`+template("Panel", `{"title":"a","elements":`+elements(1)+`}`)+`,`+
			template("TimePicker", `{"title":"b","timeslots":[`+slot+`]}`)+`]}`), false},
		{"a view resource", template("ViewResource", `{"viewId":"arn:aws:connect:us-east-1:000000000000:instance/x/view/form"}`), true},
		{"a view resource without a view", template("ViewResource", `{}`), false},
		{"an unknown template", template("Buttons", `{"title":"x","elements":`+elements(1)+`}`), false},
		{"a version Connect lacks", `{"templateType":"Panel","version":"2.0","data":{"content":{"title":"x","elements":[{"title":"a"}]}}}`, false},
		{"a reply message without a title", `{"templateType":"Panel","version":"1.0","data":{"replyMessage":{"subtitle":"s"},"content":{"title":"x","elements":[{"title":"a"}]}}}`, false},
		{"not JSON", "pick one", false},
	} {
		err := send(botTok, interactiveType, tc.content)
		var invalid *cp.ValidationException
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.what, err)
		case !tc.ok && !errors.As(err, &invalid):
			t.Errorf("%s: %v, want ValidationException", tc.what, err)
		}
	}
	var invalid *cp.ValidationException
	custTok := ts.connectionToken(t, chat.ParticipantToken)
	if err := send(custTok, interactiveType, template("Panel", `{"title":"x","elements":`+elements(1)+`}`)); !errors.As(err, &invalid) {
		t.Errorf("a customer sending an interactive message: %v, want ValidationException", err)
	}
	plain := ts.startChat(t, nil)
	agent := ts.addAgent(t, plain.ContactID)
	if err := send(ts.connectionToken(t, agent.ParticipantToken), interactiveType, template("Panel", `{"title":"x","elements":`+elements(1)+`}`)); !errors.As(err, &invalid) {
		t.Errorf("an interactive message in a chat started without the type: %v, want ValidationException", err)
	}

	// ChatJS: the customer gets the list picker and answers it.
	customer := newPeer(t, "customer", ts.URL, chat)
	customer.mustCall("connect", nil)
	customer.waitFor("socket", 10*time.Second, func(ev peerEvent) bool { return ev.Event == "onConnectionEstablished" && ev.Data != nil })
	picker := template("ListPicker", `{"title":"Which fruit?","elements":`+elements(3)+`}`)
	if err := send(botTok, interactiveType, picker); err != nil {
		t.Fatal(err)
	}
	customer.waitFor("the list picker", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onMessage" && str(ev.Data, "ContentType") == interactiveType && str(ev.Data, "Content") == picker
	})
	answer := `{"templateType":"ListPicker","version":"1.0","data":{"content":{"title":"Which fruit?","elements":[{"title":"option 2"}]}}}`
	customer.mustCall("sendMessage", map[string]string{"contentType": responseType, "message": answer})
	out := must[*cp.GetTranscriptOutput](t)(ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(botTok)}))
	if it := out.Transcript[0]; v1aws.StringValue(it.ContentType) != responseType || v1aws.StringValue(it.Content) != answer {
		t.Errorf("the bot's transcript ends with %v, want the customer's interactive response", it)
	}
}

// TestSDKInteractive: the Go SDK's typed templates, sent by a bot and an
// agent, arrive as Connect's JSON; a customer's answer parses back.
func TestSDKInteractive(t *testing.T) {
	ts := startServer(t)
	ctx := t.Context()
	chat := ts.startChat(t, interactiveChat())
	customer := sdkSession(t, ts, chat)
	agent := sdkSession(t, ts, ts.addAgent(t, chat.ContactID))
	tz := -300
	for _, tmpl := range []parley.Template{
		&parley.ListPicker{Title: "Which fruit?", Subtitle: "Tap one", Elements: []parley.Element{{Title: "Apple"}, {Title: "Orange", Subtitle: "$2"}},
			Reply: &parley.ReplyMessage{Title: "Thanks!"}},
		&parley.QuickReply{Title: "Did that help?", Elements: []parley.Element{{Title: "Yes"}, {Title: "No"}}},
		&parley.Panel{Title: "How can I help?", Elements: []parley.Element{{Title: "Track"}}},
		&parley.TimePicker{Title: "When?", TimeZoneOffset: &tz, Timeslots: []parley.Timeslot{{Date: "2026-12-01T10:00-05:00", Duration: 30}}},
		&parley.Carousel{Templates: []parley.Template{&parley.Panel{Title: "a", Elements: []parley.Element{{Title: "x"}}},
			&parley.ListPicker{Title: "b", Elements: []parley.Element{{Title: "y"}}}}},
		&parley.ViewResource{ViewID: "form"},
	} {
		if _, err := agent.SendInteractive(ctx, tmpl); err != nil {
			t.Errorf("%T: %v", tmpl, err)
		}
	}
	var denied *parley.ValidationException
	if _, err := agent.SendInteractive(ctx, &parley.ListPicker{Title: "Too many", Elements: make([]parley.Element, 7)}); !errors.As(err, &denied) {
		t.Errorf("a list picker of seven: %v, want ValidationException", err)
	}
	e := nextEvent(t, customer, "the list picker", func(e parley.Event) bool {
		m, ok := e.(*parley.Message)
		return ok && m.ContentType == parley.ContentInteractive
	}).(*parley.Message)
	if !strings.Contains(e.Content, `"templateType":"ListPicker","version":"1.0"`) || !strings.Contains(e.Content, `"replyMessage":{"title":"Thanks!"}`) {
		t.Errorf("the list picker arrived as %s", e.Content)
	}
	answer := `{"templateType":"ListPicker","version":"1.0","data":{"content":{"title":"Which fruit?","elements":[{"title":"Orange"}]}}}`
	if _, err := customer.SendMessage(ctx, parley.ContentInteractiveResponse, answer); err != nil {
		t.Fatal(err)
	}
	r, err := parley.ParseInteractiveResponse(answer)
	if err != nil || r.TemplateType != "ListPicker" || string(r.Chosen) != `{"title":"Orange"}` {
		t.Errorf("ParseInteractiveResponse: %+v, %v", r, err)
	}
}
