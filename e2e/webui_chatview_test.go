package e2e

import "testing"

// TestBrowserChatView: the chat view the widget and console share, fed
// items directly in Chromium (e2e/js/chatview.test.mjs).
func TestBrowserChatView(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	runNodeTest(t, "chatview.test.mjs", map[string]any{"url": ts.URL, "chromium": chromium})
}
