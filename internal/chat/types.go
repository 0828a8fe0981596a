package chat

import "unicode/utf8"

// Participant roles.
const (
	RoleCustomer  = "CUSTOMER"
	RoleAgent     = "AGENT"
	RoleCustomBot = "CUSTOM_BOT"
	RoleSystem    = "SYSTEM"
)

// Item types as Amazon Connect sends them.
const (
	TypeMessage         = "MESSAGE"
	TypeEvent           = "EVENT"
	TypeAttachment      = "ATTACHMENT"
	TypeMessageMetadata = "MESSAGEMETADATA"
)

// Message content types.
const (
	ContentPlain               = "text/plain"
	ContentMarkdown            = "text/markdown"
	ContentJSON                = "application/json"
	ContentInteractive         = "application/vnd.amazonaws.connect.message.interactive"
	ContentInteractiveResponse = "application/vnd.amazonaws.connect.message.interactive.response"
)

// Event content types.
const (
	eventPrefix            = "application/vnd.amazonaws.connect.event."
	EventTyping            = eventPrefix + "typing"
	EventDelivered         = eventPrefix + "message.delivered"
	EventRead              = eventPrefix + "message.read"
	EventConnectionAck     = eventPrefix + "connection.acknowledged"
	EventParticipantJoined = eventPrefix + "participant.joined"
	EventParticipantLeft   = eventPrefix + "participant.left"
	EventChatEnded         = eventPrefix + "chat.ended"
	EventParticipantIdle   = eventPrefix + "participant.idle"
)

// Disconnect reasons, as DescribeContact reports them.
const (
	ReasonCustomer = "CUSTOMER_DISCONNECT"
	ReasonAgent    = "AGENT_DISCONNECT"
	ReasonAPI      = "API"
	ReasonExpired  = "EXPIRED"
)

// Limits from Amazon Connect's feature specifications.
const (
	MaxParticipants     = 6 // 1 customer + 1 primary agent + 4 more
	DefaultDurationMins = 1500
	MinDurationMins     = 60
	MaxDurationMins     = 10080
)

// messageLimits are SendMessage's per-content-type maximum lengths, in characters.
var messageLimits = map[string]int{
	ContentPlain:               1024,
	ContentMarkdown:            1024,
	ContentJSON:                12000,
	ContentInteractiveResponse: 12288,
}

// ChatContentTypes are the types StartChatContact accepts in
// SupportedMessagingContentTypes.
var ChatContentTypes = []string{ContentPlain, ContentMarkdown, ContentJSON, ContentInteractive, ContentInteractiveResponse}

// MaxEventContent bounds SendEvent's Content, in characters. The model
// allows 16384, but no event carries text: a typing event has none and a
// receipt's {"messageId":…} is under 300. The bound is a text message's, so
// that events, which every participant receives, cannot be a flood of bytes.
const MaxEventContent = 1024

// sendableEvents are the event types a participant may send with SendEvent.
var sendableEvents = map[string]bool{
	EventTyping:        true,
	EventDelivered:     true,
	EventRead:          true,
	EventConnectionAck: true,
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
