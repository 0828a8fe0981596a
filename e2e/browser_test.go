package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/testfiles"
)

// chromiumPath finds Debian's Chromium. Without it the browser tests skip,
// saying so, unless CI is set, where that is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PARLEY_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed (.ci/run installs Debian's chromium); the browser tests cannot run")
	}
	t.Skip("SKIPPING the browser tests: Chromium is not installed (apt-get install chromium, or set PARLEY_CHROMIUM)")
	return ""
}

// addConsoleAgent creates an agent for the console and returns its key.
func (ts *testServer) addConsoleAgent(t *testing.T, name string) string {
	t.Helper()
	env := map[string]string{"PARLEY_DATA_DIR": ts.DataDir, "PARLEY_INSTANCE_ID": ts.InstanceID,
		"PARLEY_ACCESS_KEY_ID": testAKID, "PARLEY_SECRET_ACCESS_KEY": testSecret, "PARLEY_DATABASE_URL": ts.DatabaseURL}
	cfg, err := config.Parse(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	key, err := server.AddAgent(context.Background(), cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// otherOrigin serves pages from another origin than Parley's: a page that
// embeds the widget with one script tag, and one that runs the official
// ChatJS bundle from npm.
func otherOrigin(t *testing.T, parleyURL string) string {
	t.Helper()
	bundle := filepath.Join(nodeModules(t), "amazon-connect-chatjs", "dist", "amazon-connect-chat.js")
	mux := http.NewServeMux()
	mux.HandleFunc("/embed.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><html lang="en"><head><title>A shop</title><link rel="icon" href="data:,"></head><body><h1>A shop</h1>` +
			`<script src="` + parleyURL + `/embed.js" async></script></body></html>`))
	})
	mux.HandleFunc("/amazon-connect-chat.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.HandleFunc("/chatjs.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(chatjsPage))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// chatjsPage runs ChatJS as a customer's page would, against Parley: connect,
// sendAttachment, wait for the verdict, downloadAttachment, compare.
const chatjsPage = `<!doctype html><html lang="en"><head><title>ChatJS</title><link rel="icon" href="data:,">
<script src="/amazon-connect-chat.js"></script></head><body><script>
(async () => {
  try {
    const { endpoint, details } = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    connect.ChatSession.setGlobalConfig({ region: "us-east-1", endpoint, loggerConfig: { useDefaultLogger: false } });
    const session = connect.ChatSession.create({ type: "CUSTOMER", disableCSM: true, chatDetails: details, options: { region: "us-east-1" } });
    const content = "order,amount\n1234,19.99\n";
    const verdict = new Promise((resolve) => session.onMessage((e) => {
      const a = e.data.Type === "ATTACHMENT" && e.data.Attachments && e.data.Attachments[0];
      if (a && a.Status !== "IN_PROGRESS") resolve(a);
    }));
    await session.connect();
    await session.sendAttachment({ attachment: new File([content], "orders.csv", { type: "text/csv" }) });
    const a = await verdict;
    const blob = await session.downloadAttachment({ attachmentId: a.AttachmentId });
    window.__result = { status: a.Status, type: blob.type, same: (await blob.text()) === content };
  } catch (e) {
    window.__result = { error: String(e && (e.message || e.type) || e) };
  }
})();
</script></body></html>`

func TestBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	key := ts.addConsoleAgent(t, "Grace")

	dir := t.TempDir()
	files := map[string][]byte{
		"png": testfiles.PNG(640, 480), "pdf": testfiles.PDF("Invoice 1234"),
		"exe": testfiles.ELF(), "spoofed": testfiles.ELF(),
	}
	names := map[string]string{"png": "photo.png", "pdf": "invoice.pdf", "exe": "setup.exe", "spoofed": "report.pdf"}
	paths := map[string]string{}
	for k, b := range files {
		paths[k] = filepath.Join(dir, names[k])
		if err := os.WriteFile(paths[k], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	screenshots, _ := filepath.Abs(filepath.Join("js", "screenshots"))
	chatjsChat := ts.startChat(t, nil)
	runNodeTest(t, "browser.test.mjs", map[string]any{
		"url": ts.URL, "updateAttributes": attributesUpdater(t, ts), "chromium": chromium, "agentName": "Grace", "agentKey": key, "files": paths,
		"screenshots": screenshots, "otherOrigin": otherOrigin(t, ts.URL),
		"chatjsChat": map[string]string{"ContactId": chatjsChat.ContactID, "ParticipantId": chatjsChat.ParticipantID, "ParticipantToken": chatjsChat.ParticipantToken},
	})
	t.Logf("screenshots in %s", screenshots)
}

// attributesUpdater serves POST ?contact=ID, which sets the contact's
// attribute priority=urgent through the signed Connect API, for the browser
// test (which has no SigV4 keys).
func attributesUpdater(t *testing.T, ts *testServer) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := ts.connectClient().UpdateContactAttributes(r.Context(), &connect.UpdateContactAttributesInput{
			InstanceId: aws.String(ts.InstanceID), InitialContactId: aws.String(r.URL.Query().Get("contact")),
			Attributes: map[string]string{"priority": "urgent"}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWidgetStartChatEndpoint: the public start-chat endpoint honours its
// allowed origins and its rate limit, and can be turned off.
func TestWidgetStartChatEndpoint(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_ORIGINS", "https://shop.example", "PARLEY_WIDGET_RATE", "2")
	body := `{"DisplayName":"Ada","Attributes":{"plan":"pro"}}`
	resp, b := rawRequest(t, "POST", ts.URL+"/widget/v1/chats", map[string]string{"Origin": "https://shop.example"}, body)
	equal(t, "allowed origin", resp.StatusCode, 200)
	equal(t, "CORS", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example")
	var chat struct{ ContactId, ParticipantToken string }
	jsonUnmarshal(t, b, &chat)
	if chat.ContactId == "" || chat.ParticipantToken == "" {
		t.Fatalf("start-chat answered %s", b)
	}
	resp, _ = rawRequest(t, "POST", ts.URL+"/widget/v1/chats", map[string]string{"Origin": "https://evil.example"}, body)
	equal(t, "other origin", resp.StatusCode, 403)
	resp, _ = rawRequest(t, "POST", ts.URL+"/widget/v1/chats", nil, `{"DisplayName":""}`)
	equal(t, "empty name", resp.StatusCode, 400)
	resp, _ = rawRequest(t, "POST", ts.URL+"/widget/v1/chats", nil, body)
	equal(t, "third chat a minute from one address", resp.StatusCode, 429)

	off := startServerIn(t, t.TempDir(), "PARLEY_WIDGET", "off")
	resp, _ = rawRequest(t, "POST", off.URL+"/widget/v1/chats", nil, body)
	equal(t, "turned off", resp.StatusCode, 404)
}

// TestAgentConsoleAPI: agents sign in with their key; accepting is for one
// agent only; a forged key gets nothing.
func TestAgentConsoleAPI(t *testing.T) {
	ts := startServer(t)
	grace, alan := ts.addConsoleAgent(t, "Grace"), ts.addConsoleAgent(t, "Alan")
	chat := ts.startChat(t, nil)
	as := func(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

	resp, b := rawRequest(t, "GET", ts.URL+"/agent/v1/queue", as(grace), "")
	equal(t, "queue status", resp.StatusCode, 200)
	if !strings.Contains(string(b), chat.ContactID) {
		t.Errorf("the queue lacks the new chat: %s", b)
	}
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/queue", as("forged"), "")
	equal(t, "forged key", resp.StatusCode, 403)
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/queue", nil, "")
	equal(t, "no key", resp.StatusCode, 401)

	resp, b = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as(grace), "")
	equal(t, "accept", resp.StatusCode, 200)
	var accepted struct{ ParticipantToken string }
	jsonUnmarshal(t, b, &accepted)
	if accepted.ParticipantToken == "" {
		t.Fatalf("accept answered %s", b)
	}
	resp, _ = rawRequest(t, "POST", ts.URL+"/agent/v1/chats/"+chat.ContactID+"/accept", as(alan), "")
	equal(t, "a second agent accepting", resp.StatusCode, 409)
	resp, _ = rawRequest(t, "GET", ts.URL+"/agent/v1/chats/"+chat.ContactID, as(alan), "")
	equal(t, "another agent's chat", resp.StatusCode, 403)
	_, b = rawRequest(t, "GET", ts.URL+"/agent/v1/queue", as(grace), "")
	if strings.Contains(string(b), chat.ContactID) {
		t.Errorf("an accepted chat is still waiting: %s", b)
	}
	// The agent's token works on the participant API like any other.
	ts.connectionToken(t, accepted.ParticipantToken)
}
