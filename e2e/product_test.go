package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	ctypes "github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/parleychat/parley/internal/testfiles"
)

// sampleWidgetPage starts a chat exactly as Amazon's sample widgets do
// (amazon-connect-chat-interface's initiateChat: a POST of the
// StartChatContact request as a string, so as text/plain, with no headers,
// reading data.startChatResult) and then talks through the official ChatJS:
// a message, an attachment, and the agent's answer awaited.
const sampleWidgetPage = `<!doctype html><html lang="en"><head><title>A sample widget</title><link rel="icon" href="data:,">
<script src="/amazon-connect-chat.js"></script></head><body><main><h1>Sample widget</h1></main><script>
window.__log = [];
(async () => {
  try {
    const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    const t0 = performance.now();
    const initiateChatRequest = { InstanceId: cfg.instanceId, ContactFlowId: "sample-flow",
      ParticipantDetails: { DisplayName: "Sam" }, Attributes: { customerName: "Sam" },
      SupportedMessagingContentTypes: ["text/plain", "text/markdown"], ChatDurationInMinutes: 60 };
    const res = await fetch(cfg.apiGatewayEndpoint, { headers: new Headers(), method: "post", body: JSON.stringify(initiateChatRequest) });
    const json = await res.json();
    if (!res.ok) throw new Error("start: " + JSON.stringify(json));
    const details = json.data.startChatResult;
    window.__features = json.data.featurePermissions;
    connect.ChatSession.setGlobalConfig({ region: "us-east-1", endpoint: cfg.endpoint, loggerConfig: { useDefaultLogger: false } });
    const session = connect.ChatSession.create({ type: "CUSTOMER", disableCSM: true, chatDetails: details, options: { region: "us-east-1" } });
    session.onMessage((e) => {
      const d = e.data;
      if (d.Type === "MESSAGE" && d.ParticipantRole === "AGENT") window.__log.push({ content: d.Content, at: Date.now() });
      if (d.Type === "ATTACHMENT" && d.Attachments && d.Attachments[0].Status !== "IN_PROGRESS") window.__verdict = d.Attachments[0].Status;
    });
    await session.connect();
    window.__connectedMs = performance.now() - t0;
    await session.sendMessage({ contentType: "text/plain", message: "Hello from a sample widget" });
    await session.sendAttachment({ attachment: new File(["order,amount\n1234,19.99\n"], "orders.csv", { type: "text/csv" }) });
    window.__contactId = details.ContactId;
    window.__ready = true;
  } catch (e) {
    window.__error = String(e && (e.message || e.type) || e);
  }
})();
</script></body></html>`

// productOrigin serves, from another origin than Parley's, the sample
// widget page, ChatJS's bundle, and a page embedding the widget with
// data- attributes.
func productOrigin(t *testing.T, parleyURL string) string {
	t.Helper()
	bundle := filepath.Join(nodeModules(t), "amazon-connect-chatjs", "dist", "amazon-connect-chat.js")
	mux := http.NewServeMux()
	html := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(body))
		}
	}
	mux.HandleFunc("/amazon-connect-chat.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.HandleFunc("/sample.html", html(sampleWidgetPage))
	mux.HandleFunc("/embed.html", html(`<!doctype html><html lang="en"><head><title>A shop</title><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"></head>`+
		`<body><main><h1>A shop</h1><p>Things for sale.</p></main>`+
		`<script src="`+parleyURL+`/embed.js" async data-title="Shop help" data-color="#7a1fa2" data-position="left"></script></body></html>`))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestBrowserProduct: the widget and the console as products (issue 15),
// and Amazon's sample widgets as drop-ins, in Chromium, with screenshots and
// axe-core on every screen (e2e/js/product.test.mjs).
func TestBrowserProduct(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_TITLE", "Acme help", "PARLEY_WIDGET_COLOR", "#0a5c36",
		"PARLEY_WIDGET_WELCOME", "Hi! Tell us your name and we will find someone to help.", "PARLEY_WIDGET_LOGO", "/static/icon.svg")
	key := ts.addConsoleAgent(t, "Grace")
	dir := t.TempDir()
	png := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(png, testfiles.PNG(640, 480), 0o600); err != nil {
		t.Fatal(err)
	}
	// A customer known by CustomerId: an earlier chat, ended, and one
	// waiting now.
	past := ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"CustomerId": "cust-9"},
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("Nine")},
		InitialMessage:     &ctypes.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("Where is my parcel?")}})
	if _, err := ts.connectClient().StopContact(context.Background(), &connect.StopContactInput{
		InstanceId: aws.String(ts.InstanceID), ContactId: aws.String(past.ContactID)}); err != nil {
		t.Fatal(err)
	}
	ts.startChat(t, &connect.StartChatContactInput{Attributes: map[string]string{"CustomerId": "cust-9"},
		ParticipantDetails: &ctypes.ParticipantDetails{DisplayName: aws.String("Nine")}})
	spoofed := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(spoofed, testfiles.ELF(), 0o600); err != nil {
		t.Fatal(err)
	}
	screenshots, _ := filepath.Abs(filepath.Join("js", "screenshots"))
	runNodeTest(t, "product.test.mjs", map[string]any{
		"url": ts.URL, "chromium": chromium, "agentName": "Grace", "agentKey": key, "png": png, "spoofed": spoofed,
		"screenshots": screenshots, "otherOrigin": productOrigin(t, ts.URL), "instanceId": ts.InstanceID,
	})
}
