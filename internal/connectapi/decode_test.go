package connectapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/awswire"
)

func checkConnectError(t *testing.T, err error) {
	t.Helper()
	var e *awswire.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "" ||
		(e.Type != "InvalidParameterException" && e.Type != "InvalidRequestException") {
		t.Fatalf("decode error %#v is not a Connect 400", err)
	}
}

func TestDecodeStartChat(t *testing.T) {
	base := `"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Ada"}`
	tests := []struct {
		body string
		ok   bool
	}{
		{`{` + base + `}`, true},
		{`{` + base + `,"ChatDurationInMinutes":60}`, true},
		{`{` + base + `,"ChatDurationInMinutes":0}`, false},
		{`{` + base + `,"ChatDurationInMinutes":10081}`, false},
		{`{` + base + `,"SupportedMessagingContentTypes":["text/plain","text/markdown"]}`, true},
		{`{` + base + `,"SupportedMessagingContentTypes":["text/markdown"]}`, false},
		{`{` + base + `,"SupportedMessagingContentTypes":["image/png","text/plain"]}`, false},
		{`{` + base + `,"Attributes":{"a":"` + strings.Repeat("v", 32767) + `"}}`, true},
		{`{` + base + `,"Attributes":{"a":"` + strings.Repeat("v", 32767) + `","b":"c"}}`, false},
		{`{` + base + `,"InitialMessage":{"ContentType":"text/plain"}}`, false},
		// "Maximum of 16,384 bytes for all content types" (ChatMessage.Content).
		{`{` + base + `,"InitialMessage":{"ContentType":"text/plain","Content":"` + strings.Repeat("é", 8192) + `"}}`, true},
		{`{` + base + `,"InitialMessage":{"ContentType":"text/plain","Content":"` + strings.Repeat("é", 8193) + `"}}`, false},
		{`{` + base + `,"PersistentChat":{"RehydrationType":"ENTIRE_PAST_SESSION","SourceContactId":"x"}}`, true},
		{`{` + base + `,"PersistentChat":{"RehydrationType":"FROM_SEGMENT","SourceContactId":"x"},"RelatedContactId":"y"}`, false},
		{`{` + base + `,"PersistentChat":{"RehydrationType":"ALL","SourceContactId":"x"}}`, false},
		{`{` + base + `,"PersistentChat":{"SourceContactId":"x"}}`, false},
		{`{` + base + `,"PersistentChat":{"RehydrationType":"FROM_SEGMENT"}}`, false},
		{`{` + base + `,"PersistentChat":{"RehydrationType":"FROM_SEGMENT","SourceContactId":""}}`, false},
		{`{` + base + `,"DisconnectOnCustomerExit":["AGENT"]}`, true},
		{`{` + base + `,"DisconnectOnCustomerExit":["CUSTOMER"]}`, false},
		{`{` + base + `,"DisconnectOnCustomerExit":[]}`, false},
		{`{` + base + `,"DisconnectOnCustomerExit":["AGENT","AGENT"]}`, false},
		{`{` + base + `,"ParticipantConfiguration":{"ResponseMode":"INCREMENTAL"}}`, true},
		{`{` + base + `,"ParticipantConfiguration":{"ResponseMode":"STREAMING"}}`, false},
		{`{` + base + `,"CustomerId":""}`, false},
		// CustomerIdNonEmpty: 1 to 128 characters.
		{`{` + base + `,"CustomerId":"` + strings.Repeat("é", 128) + `"}`, true},
		{`{` + base + `,"CustomerId":"` + strings.Repeat("c", 129) + `"}`, false},
		// SegmentAttributes: names of 1 to 128 characters, strings and ARNs
		// of at most 1,024, integers of 32 bits, at every depth.
		{`{` + base + `,"SegmentAttributes":{"connect:Subtype":{"ValueString":"connect:SMS"}}}`, true},
		{`{` + base + `,"SegmentAttributes":{"` + strings.Repeat("k", 128) + `":{"ValueString":"` + strings.Repeat("v", 1024) + `"}}}`, true},
		{`{` + base + `,"SegmentAttributes":{"` + strings.Repeat("k", 129) + `":{"ValueString":"v"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"":{"ValueString":"v"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueString":"` + strings.Repeat("v", 1025) + `"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueArn":"` + strings.Repeat("a", 1025) + `"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueInteger":2147483647,"ValueString":""}}}`, true},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueInteger":2147483648}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueInteger":"1"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"connect:ContactExpiry":{"ValueMap":{"ExpiryDuration":{"ValueInteger":135}}}}}`, true},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueMap":{"":{"ValueInteger":1}}}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueMap":{"m":{"ValueString":"` + strings.Repeat("v", 1025) + `"}}}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueList":[{"ValueString":"a"},{"ValueInteger":2}]}}}`, true},
		{`{` + base + `,"SegmentAttributes":{"k":{"ValueList":[{"ValueArn":"` + strings.Repeat("a", 1025) + `"}]}}}`, false},
		{`{` + base + `,"SegmentAttributes":[{"k":"v"}]}`, false},
		// connect:Guide needs both interactive content types.
		{`{` + base + `,"SegmentAttributes":{"connect:Subtype":{"ValueString":"connect:Guide"}}}`, false},
		{`{` + base + `,"SegmentAttributes":{"connect:Subtype":{"ValueString":"connect:Guide"}},"SupportedMessagingContentTypes":["text/plain","application/vnd.amazonaws.connect.message.interactive"]}`, false},
		{`{` + base + `,"SegmentAttributes":{"connect:Subtype":{"ValueString":"connect:Guide"}},"SupportedMessagingContentTypes":["text/plain","application/vnd.amazonaws.connect.message.interactive","application/vnd.amazonaws.connect.message.interactive.response"]}`, true},
		{`{"InstanceId":"i","ParticipantDetails":{"DisplayName":"Ada"}}`, false},
		{`{"InstanceId":"i","ContactFlowId":"f"}`, false},
		{`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{}}`, false},
	}
	for _, tt := range tests {
		_, err := decodeStartChat([]byte(tt.body))
		if tt.ok && err != nil {
			t.Errorf("%.80s: %v", tt.body, err)
		}
		if !tt.ok {
			if err == nil {
				t.Errorf("%.80s: accepted", tt.body)
				continue
			}
			checkConnectError(t, err)
		}
	}
}

func FuzzDecodeStartChat(f *testing.F) {
	f.Add([]byte(`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Ada"},"InitialMessage":{"ContentType":"text/plain","Content":"hi"},"Attributes":{"k":"v"},"ChatDurationInMinutes":90}`))
	f.Add([]byte(`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Ada"},"SupportedMessagingContentTypes":["text/plain"]}`))
	f.Add([]byte(`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Ada"},"CustomerId":"c-1","SegmentAttributes":{"k":{"ValueMap":{"m":{"ValueList":[{"ValueString":"v"}]}}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeStartChat(body)
		if err != nil {
			checkConnectError(t, err)
			return
		}
		if in.InstanceId == nil || in.ContactFlowId == nil || in.ParticipantDetails == nil || in.ParticipantDetails.DisplayName == nil || *in.ParticipantDetails.DisplayName == "" {
			t.Fatalf("accepted without a required member: %q", body)
		}
		if d := in.ChatDurationInMinutes; d != nil && (*d < 60 || *d > 10080) {
			t.Fatalf("accepted duration %d", *d)
		}
		if m := in.InitialMessage; m != nil && (m.Content == nil || m.ContentType == nil) {
			t.Fatalf("accepted an incomplete initial message: %q", body)
		}
		if id := in.CustomerId; id != nil && (*id == "" || utf8.RuneCountInString(*id) > 128) {
			t.Fatalf("accepted CustomerId %q", *id)
		}
	})
}

func FuzzDecodeCreateParticipant(f *testing.F) {
	f.Add([]byte(`{"InstanceId":"i","ContactId":"c","ParticipantDetails":{"ParticipantRole":"AGENT","DisplayName":"Grace"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeCreateParticipant(body)
		if err != nil {
			checkConnectError(t, err)
			return
		}
		if in.InstanceId == nil || in.ContactId == nil || in.ParticipantDetails == nil || in.ParticipantDetails.ParticipantRole == nil {
			t.Fatalf("accepted without a required member: %q", body)
		}
	})
}

func FuzzDecodeStopContact(f *testing.F) {
	f.Add([]byte(`{"InstanceId":"i","ContactId":"c"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := decodeStopContact(body)
		if err != nil {
			checkConnectError(t, err)
			return
		}
		if in.InstanceId == nil || in.ContactId == nil || *in.InstanceId == "" || *in.ContactId == "" {
			t.Fatalf("accepted without a required member: %q", body)
		}
	})
}

func FuzzDecodeRoleConfig(f *testing.F) {
	f.Add([]byte(`{"ChannelConfiguration":{"Chat":{"ParticipantTimerConfigList":[{"ParticipantRole":"CUSTOMER","TimerType":"IDLE","TimerValue":{"ParticipantTimerDurationInMinutes":5}}]}}}`))
	f.Add([]byte(`{"ChannelConfiguration":{"Chat":{"ParticipantTimerConfigList":[{"ParticipantRole":"AGENT","TimerType":"DISCONNECT_NONCUSTOMER","TimerValue":{"ParticipantTimerAction":"Unset"}}]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		updates, err := decodeRoleConfig(body)
		if err != nil {
			checkConnectError(t, err)
			return
		}
		if len(updates) < 1 || len(updates) > 6 {
			t.Fatalf("accepted %d timers", len(updates))
		}
		for _, u := range updates {
			if u.Unset != (u.Minutes == 0) || (!u.Unset && (u.Minutes < 2 || u.Minutes > 480)) {
				t.Fatalf("accepted timer %+v", u)
			}
		}
	})
}
