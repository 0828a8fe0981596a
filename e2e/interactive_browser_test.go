package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"
	v1aws "github.com/aws/aws-sdk-go/aws"
	cp "github.com/aws/aws-sdk-go/service/connectparticipant"
)

// TestBrowserInteractive: the widget renders a bot's ListPicker,
// QuickReply and Panel, and the customer's taps go back as interactive
// responses (e2e/js/interactive.test.mjs in Chromium).
func TestBrowserInteractive(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	runNodeTest(t, "interactive.test.mjs", map[string]any{"url": ts.URL, "chromium": chromium, "bot": interactiveBot(t, ts)})
}

// interactiveBot serves, for the browser tests, POST ?contact=ID: a custom
// bot joins the chat and sends a ListPicker, a QuickReply and a Panel; GET
// ?contact=ID: the interactive responses the bot has in its transcript,
// oldest first.
func interactiveBot(t *testing.T, ts *testServer) string {
	var mu sync.Mutex
	bots := map[string]string{} // contact → the bot's connection token
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contact := r.URL.Query().Get("contact")
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			bot, err := ts.connectClient().CreateParticipant(r.Context(), &connect.CreateParticipantInput{
				InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(contact),
				ParticipantDetails: &ctypes.ParticipantDetailsToAdd{ParticipantRole: ctypes.ParticipantRoleCustomBot, DisplayName: aws.String("Bot")}})
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			tok := ts.connectionToken(t, *bot.ParticipantCredentials.ParticipantToken)
			bots[contact] = tok
			for _, m := range []string{
				template("ListPicker", `{"title":"Which fruit?","subtitle":"Tap one","elements":[{"title":"Apple","subtitle":"$1"},{"title":"Orange"},{"title":"Banana"}]}`),
				template("QuickReply", `{"title":"Did that help?","elements":[{"title":"Yes"},{"title":"No"}]}`),
				template("Panel", `{"title":"How can I help?","elements":[{"title":"Track my order"},{"title":"Talk to an agent"}]}`),
			} {
				if _, err := ts.participantClient().SendMessage(&cp.SendMessageInput{ConnectionToken: v1aws.String(tok),
					ContentType: v1aws.String(interactiveType), Content: v1aws.String(m)}); err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		out, err := ts.participantClient().GetTranscript(&cp.GetTranscriptInput{ConnectionToken: v1aws.String(bots[contact]),
			SortOrder: v1aws.String("ASCENDING"), MaxResults: v1aws.Int64(100)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answers := []string{}
		for _, it := range out.Transcript {
			if v1aws.StringValue(it.ContentType) == responseType {
				answers = append(answers, v1aws.StringValue(it.Content))
			}
		}
		json.NewEncoder(w).Encode(answers)
	})
	bot := httptest.NewServer(h)
	t.Cleanup(bot.Close)
	return bot.URL
}

// TestBrowserConsoleInteractiveReadOnly: the console shows a bot's
// interactive message to the agent without letting the agent answer it for
// the customer (e2e/js/console-interactive.test.mjs).
func TestBrowserConsoleInteractiveReadOnly(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	fixture := adaAndBob(t, chromium, ts)
	fixture["bot"] = interactiveBot(t, ts)
	runNodeTest(t, "console-interactive.test.mjs", fixture)
}

// TestBrowserConsoleControls: the console's monitor, barge and transfer
// controls in Chromium (e2e/js/console.test.mjs).
func TestBrowserConsoleControls(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	grace, sam := ts.addConsoleAgent(t, "Grace"), ts.addConsoleAgent(t, "Sam")
	chat := ts.startChat(t, &connect.StartChatContactInput{
		ParticipantDetails:             &ctypes.ParticipantDetails{DisplayName: aws.String("Ada")},
		SupportedMessagingContentTypes: []string{"text/plain", "text/markdown"}, // the console writes Markdown
		InitialMessage:                 &ctypes.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("Where is my parcel?")}})
	runNodeTest(t, "console.test.mjs", map[string]any{"url": ts.URL, "chromium": chromium, "graceKey": grace, "samKey": sam,
		"contactId": chat.ContactID})
}

// TestBrowserConsoleReadReceipts: the console tells a customer a message
// was read only once its chat is shown (e2e/js/console-read.test.mjs).
func TestBrowserConsoleReadReceipts(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	runNodeTest(t, "console-read.test.mjs", adaAndBob(t, chromium, ts))
}

// adaAndBob starts two chats, Ada's and Bob's, for Grace, an agent of the
// console: the fixture of the console's tests of several chats.
func adaAndBob(t *testing.T, chromium string, ts *testServer) map[string]any {
	grace := ts.addConsoleAgent(t, "Grace")
	type customer struct {
		ContactId string `json:"contactId"`
		Token     string `json:"token"`
	}
	fixture := map[string]any{"url": ts.URL, "chromium": chromium, "graceKey": grace}
	for _, name := range []string{"Ada", "Bob"} {
		chat := ts.startChat(t, &connect.StartChatContactInput{
			ParticipantDetails:             &ctypes.ParticipantDetails{DisplayName: aws.String(name)},
			SupportedMessagingContentTypes: []string{"text/plain", "text/markdown", interactiveType, responseType}})
		fixture[strings.ToLower(name)] = customer{chat.ContactID, ts.connectionToken(t, chat.ParticipantToken)}
	}
	return fixture
}

// TestBrowserConsoleTabs: closing the chat shown leaves another shown and
// reachable from the keyboard (e2e/js/console-tabs.test.mjs).
func TestBrowserConsoleTabs(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	runNodeTest(t, "console-tabs.test.mjs", adaAndBob(t, chromium, startServer(t)))
}

// TestBrowserConsoleAcceptOnce: a double click on Accept accepts once,
// without an error (e2e/js/console-accept.test.mjs).
func TestBrowserConsoleAcceptOnce(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	runNodeTest(t, "console-accept.test.mjs", adaAndBob(t, chromium, startServer(t)))
}
