package e2e

import "testing"

// TestBrowserEmbedUnreadAfterReload: the embedded widget's unread badge
// counts what came while it was closed, not the history a reload reads
// back (e2e/js/embed-unread.test.mjs).
func TestBrowserEmbedUnreadAfterReload(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	runNodeTest(t, "embed-unread.test.mjs", map[string]any{"url": ts.URL, "chromium": chromium,
		"agentKey": ts.addConsoleAgent(t, "Grace"), "otherOrigin": otherOrigin(t, ts.URL)})
}
