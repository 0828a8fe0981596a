package e2e

import "testing"

// TestWebUILiveItemsAfterTranscript runs the web pages' ChatConnection
// against a fake service: items the socket pushes while the transcript is
// read (a page load, a catch-up) reach the page after the transcript's.
func TestWebUILiveItemsAfterTranscript(t *testing.T) {
	runNodeTest(t, "webui-order.test.mjs", nil)
}
