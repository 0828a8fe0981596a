package e2e

import (
	"strings"
	"testing"
	"time"

	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

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
