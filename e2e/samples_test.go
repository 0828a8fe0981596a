package e2e

import (
	"strings"
	"testing"
)

// TestSampleBackendEndpoint: Parley answers as the API Gateway Lambda behind
// Amazon's sample chat widgets does: the body as text/plain, InstanceId or
// ConnectInstanceId, the result under data.startChatResult, errors under
// data.Error with a non-2xx status, and the preflight the samples need.
func TestSampleBackendEndpoint(t *testing.T) {
	ts := startServerIn(t, t.TempDir(), "PARLEY_WIDGET_ORIGINS", "https://shop.example")
	url := ts.URL + "/widget/v1/start-chat-contact"
	plain := map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"}

	resp, _ := rawRequest(t, "OPTIONS", url, map[string]string{"Origin": "https://shop.example",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"}, "")
	equal(t, "preflight status", resp.StatusCode, 204)
	equal(t, "preflight origin", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example")
	for _, h := range []string{"Content-Type", "X-Amz-Date", "Authorization", "X-Api-Key", "X-Amz-Security-Token"} {
		if !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("the preflight does not allow %s: %q", h, resp.Header.Get("Access-Control-Allow-Headers"))
		}
	}

	for _, idField := range []string{"InstanceId", "ConnectInstanceId"} {
		body := `{"` + idField + `":"` + ts.InstanceID + `","ContactFlowId":"whatever-the-sample-was-given",` +
			`"ParticipantDetails":{"DisplayName":"Ada"},"Attributes":{"customerName":"Ada"},` +
			`"SupportedMessagingContentTypes":["text/plain","text/markdown"],"ChatDurationInMinutes":60,` +
			`"InitialMessage":{"ContentType":"text/plain","Content":"Hello from the sample"}}`
		resp, b := rawRequest(t, "POST", url, plain, body)
		equal(t, idField+" status", resp.StatusCode, 200)
		equal(t, idField+" CORS", resp.Header.Get("Access-Control-Allow-Origin"), "https://shop.example")
		var out struct {
			Data struct {
				StartChatResult    struct{ ContactId, ParticipantId, ParticipantToken string } `json:"startChatResult"`
				FeaturePermissions map[string]bool                                             `json:"featurePermissions"`
			} `json:"data"`
		}
		jsonUnmarshal(t, b, &out)
		r := out.Data.StartChatResult
		if r.ContactId == "" || r.ParticipantId == "" || r.ParticipantToken == "" {
			t.Fatalf("%s: answered %s", idField, b)
		}
		if !out.Data.FeaturePermissions["ATTACHMENTS"] {
			t.Errorf("%s: featurePermissions %s", idField, b)
		}
		// The token works on the participant API.
		ts.connectionToken(t, r.ParticipantToken)
	}

	for name, c := range map[string]struct {
		body   string
		status int
	}{
		"not JSON":       {`DisplayName=Ada`, 400},
		"no name":        {`{"ParticipantDetails":{"DisplayName":""}}`, 400},
		"other instance": {`{"InstanceId":"someone-else","ParticipantDetails":{"DisplayName":"Ada"}}`, 400},
		"short duration": {`{"ParticipantDetails":{"DisplayName":"Ada"},"ChatDurationInMinutes":5}`, 400},
	} {
		resp, b := rawRequest(t, "POST", url, plain, c.body)
		equal(t, name+" status", resp.StatusCode, c.status)
		var out struct {
			Data struct {
				Error struct{ Code, Message string } `json:"Error"`
			} `json:"data"`
		}
		jsonUnmarshal(t, b, &out)
		if out.Data.Error.Message == "" || out.Data.Error.Code == "" {
			t.Errorf("%s: the error is not under data.Error: %s", name, b)
		}
	}
	resp, _ = rawRequest(t, "POST", url, map[string]string{"Origin": "https://evil.example"}, `{"ParticipantDetails":{"DisplayName":"Ada"}}`)
	equal(t, "other origin", resp.StatusCode, 403)
}
