package e2e

import (
	"context"
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
)

// TestMonitorContact: MonitorContact with the official Go client makes a
// console agent a SUPERVISOR; in ChatJS the silent monitor hears the chat
// unheard and cannot send, and after barging in it sends and is seen.
func TestMonitorContact(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	cc := ts.connectClient()
	grace, sam := ts.signIn(t, "Grace"), ts.signIn(t, "Sam")
	monitor := func(contactID, userID string, caps ...ctypes.MonitorCapability) (*connect.MonitorContactOutput, error) {
		return cc.MonitorContact(ctx, &connect.MonitorContactInput{InstanceId: aws.String(ts.InstanceID),
			ContactId: aws.String(contactID), UserId: aws.String(userID), AllowedMonitorCapabilities: caps})
	}

	// Where Connect refuses.
	var invalid *ctypes.InvalidRequestException
	var notFound *ctypes.ResourceNotFoundException
	queued := ts.startChat(t, nil)
	if _, err := monitor(queued.ContactID, sam.id); !errors.As(err, &invalid) {
		t.Errorf("monitoring a chat no agent has: %v, want InvalidRequestException", err)
	}
	ended := ts.endedChat(t, "bye", nil)
	if _, err := monitor(ended.ContactID, sam.id); !errors.As(err, &invalid) {
		t.Errorf("monitoring an ended chat: %v, want InvalidRequestException", err)
	}
	chat := ts.startChat(t, nil)
	agent := grace.accept(chat.ContactID)
	if _, err := monitor(chat.ContactID, "00000000-0000-0000-0000-000000000000"); !errors.As(err, &notFound) {
		t.Errorf("an unknown UserId: %v, want ResourceNotFoundException", err)
	}
	if _, err := monitor(chat.ContactID, sam.id, "LISTEN"); !errors.As(err, &invalid) {
		t.Errorf("an unknown capability: %v, want InvalidRequestException", err)
	}
	if _, err := monitor(chat.ContactID, grace.id); !errors.As(err, &invalid) {
		t.Errorf("monitoring by the chat's own agent: %v, want InvalidRequestException", err)
	}

	out, err := monitor(chat.ContactID, sam.id, ctypes.MonitorCapabilitySilentMonitor, ctypes.MonitorCapabilityBarge)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "MonitorContact's ContactId", aws.ToString(out.ContactId), chat.ContactID)
	if !strings.HasSuffix(aws.ToString(out.ContactArn), "/contact/"+chat.ContactID) {
		t.Errorf("ContactArn %q", aws.ToString(out.ContactArn))
	}

	// The supervisor's console takes the participant MonitorContact made.
	var sup struct {
		ParticipantId, ParticipantToken string
		Capabilities                    []string
	}
	jsonUnmarshal(t, sam.must("POST", "/agent/v1/chats/"+chat.ContactID+"/monitor", ""), &sup)
	equal(t, "capabilities", strings.Join(sup.Capabilities, ","), "SILENT_MONITOR,BARGE")

	customer := newPeer(t, "customer", ts.URL, chat)
	supervisor := newPeer(t, "supervisor", ts.URL, chatDetails{chat.ContactID, sup.ParticipantId, sup.ParticipantToken})
	for _, p := range []*peer{customer, supervisor} {
		p.mustCall("connect", nil)
		p.waitFor("socket", 10*time.Second, func(ev peerEvent) bool { return ev.Event == "onConnectionEstablished" && ev.Data != nil })
	}
	customer.mustCall("sendMessage", map[string]string{"contentType": "text/plain", "message": "where is my parcel"})
	supervisor.waitFor("the customer's message", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onMessage" && str(ev.Data, "Content") == "where is my parcel"
	})
	if _, err := supervisor.call("sendMessage", map[string]string{"contentType": "text/plain", "message": "psst"}); err == nil {
		t.Error("a silent monitor sent a message")
	}
	// Receipts between customer and agent go on: the chat has two participants it knows of.
	agentTok := ts.connectionToken(t, agent.ParticipantToken)
	msg := must[*cp.SendMessageOutput](t)(ts.participantClient().SendMessage(sendInput(agentTok, "let me look")))
	custTok := ts.connectionToken(t, chat.ParticipantToken)
	read := &cp.SendEventInput{ConnectionToken: v1aws.String(custTok), ContentType: v1aws.String("application/vnd.amazonaws.connect.event.message.read"),
		Content: v1aws.String(fmt.Sprintf(`{"messageId":%q}`, *msg.Id))}
	if _, err := ts.participantClient().SendEvent(read); err != nil {
		t.Errorf("a read receipt while silently monitored: %v", err)
	}
	for _, ev := range customer.drain(time.Second) {
		if str(ev.Data, "ParticipantRole") == "SUPERVISOR" {
			t.Errorf("the customer heard of the silent monitor: %v", ev.Data)
		}
	}

	// Barge: the chat hears the supervisor join, and the supervisor speaks.
	sam.must("POST", "/agent/v1/chats/"+chat.ContactID+"/barge", "")
	customer.waitFor("the supervisor joining", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onMessage" && str(ev.Data, "ParticipantRole") == "SUPERVISOR" && strings.HasSuffix(str(ev.Data, "ContentType"), "participant.joined")
	})
	supervisor.mustCall("sendMessage", map[string]string{"contentType": "text/plain", "message": "I am the supervisor"})
	customer.waitFor("the supervisor's message", 10*time.Second, func(ev peerEvent) bool {
		return ev.Event == "onMessage" && str(ev.Data, "Content") == "I am the supervisor" && str(ev.Data, "ParticipantRole") == "SUPERVISOR"
	})
	// "Using the SendEvent API for message receipts when a supervisor is
	// barged-in will result in a conflict exception."
	var conflict *cp.ConflictException
	if _, err := ts.participantClient().SendEvent(read); !errors.As(err, &conflict) {
		t.Errorf("a receipt after a barge: %v, want ConflictException", err)
	}

	// Monitoring without BARGE cannot barge.
	other := ts.startChat(t, nil)
	grace.accept(other.ContactID)
	if _, err := monitor(other.ContactID, sam.id); err != nil {
		t.Fatal(err)
	}
	if status, _ := sam.call("POST", "/agent/v1/chats/"+other.ContactID+"/barge", ""); status != 403 {
		t.Errorf("a barge without BARGE: %d, want 403", status)
	}
}

// TestSilentMonitorSocketClosesWhenItLeaves: a silent monitor that calls
// DisconnectParticipant leaves unheard, but its open websocket must close
// with it; before, it went on receiving the chat's messages.
func TestSilentMonitorSocketClosesWhenItLeaves(t *testing.T) {
	ts := startServer(t)
	grace, sam := ts.signIn(t, "Grace"), ts.signIn(t, "Sam")
	chat := ts.startChat(t, nil)
	agent := grace.accept(chat.ContactID)
	var sup struct{ ParticipantId, ParticipantToken string }
	jsonUnmarshal(t, sam.must("POST", "/agent/v1/chats/"+chat.ContactID+"/monitor", ""), &sup)

	ws := dialChat(t, ts, sup.ParticipantToken)
	supTok := ts.connectionToken(t, sup.ParticipantToken)
	if _, err := ts.participantClient().DisconnectParticipant(&cp.DisconnectParticipantInput{ConnectionToken: v1aws.String(supTok)}); err != nil {
		t.Fatal(err)
	}
	agentTok := ts.connectionToken(t, agent.ParticipantToken)
	if _, err := ts.participantClient().SendMessage(sendInput(agentTok, "said after the monitor left")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		f, err := ws.read(time.Until(deadline))
		if err != nil {
			return // closed (or silent): the monitor hears nothing more
		}
		if f.Topic == "aws/chat" && strings.Contains(string(f.Content), "said after the monitor left") {
			t.Fatal("a silent monitor that left still receives the chat's messages on its open websocket")
		}
	}
}
