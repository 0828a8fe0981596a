package e2e

import "testing"

// TestBrowserWidgetEndFocus: ending a chat in the widget moves focus to
// the rating (e2e/js/widget-end.test.mjs).
func TestBrowserWidgetEndFocus(t *testing.T) {
	chromium := chromiumPath(t)
	nodeModules(t)
	ts := startServer(t)
	runNodeTest(t, "widget-end.test.mjs", map[string]any{"url": ts.URL, "chromium": chromium})
}
