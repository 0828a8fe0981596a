package e2e

import "testing"

// TestWebUICatchUpFromLastItem runs the web pages' ChatConnection against a
// fake service: after a reconnect it reads the transcript from the last
// item it saw, not all of it.
func TestWebUICatchUpFromLastItem(t *testing.T) {
	runNodeTest(t, "webui-catchup.test.mjs", nil)
}
