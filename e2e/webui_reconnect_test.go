package e2e

import "testing"

// TestWebUIReconnectIsSingleFlight runs the web pages' ChatConnection
// against a fake service whose socket upgrades fail: one reconnect loop
// runs, and one socket is open in the end.
func TestWebUIReconnectIsSingleFlight(t *testing.T) {
	runNodeTest(t, "webui-reconnect.test.mjs", nil)
}
