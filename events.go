package parley

import (
	"strings"
	"time"
)

// Item is a chat item as the participant service sends it, in a transcript
// or live.
type Item struct {
	ID              string
	Type            string // MESSAGE, EVENT, ATTACHMENT, MESSAGEMETADATA, …
	ContentType     string
	Content         string
	ParticipantID   string
	DisplayName     string
	ParticipantRole string // CUSTOMER, AGENT, CUSTOM_BOT, SYSTEM
	ContactID       string // the contact it was sent on (a past one's in a persistent chat)
	Time            time.Time
	Attachments     []Attachment
	// MessageID and Receipts are set on receipts (MESSAGEMETADATA) and, in a
	// transcript, on messages that have been delivered or read.
	MessageID string
	Receipts  []ReceiptInfo
}

// Attachment is a file of an ATTACHMENT item.
type Attachment struct {
	ID          string
	Name        string
	ContentType string
	Status      string // APPROVED, REJECTED or IN_PROGRESS
}

// ReceiptInfo is when a participant got or read a message.
type ReceiptInfo struct {
	RecipientParticipantID string
	Delivered              time.Time
	Read                   time.Time
}

// wireItem is Item's JSON shape.
type wireItem struct {
	Id, Type, ContentType, Content, ParticipantId, DisplayName, ParticipantRole, ContactId string
	// RelatedContactId replaces ContactId on a transcript's items from a
	// persistent chat's past sessions.
	RelatedContactId string
	AbsoluteTime     string
	Attachments      []struct {
		AttachmentId, AttachmentName, ContentType, Status string
	}
	MessageMetadata *struct {
		MessageId string
		Receipts  []struct {
			DeliveredTimestamp, ReadTimestamp, RecipientParticipantId string
		}
	}
}

func (w wireItem) item() Item {
	it := Item{ID: w.Id, Type: w.Type, ContentType: w.ContentType, Content: w.Content, ParticipantID: w.ParticipantId,
		DisplayName: w.DisplayName, ParticipantRole: w.ParticipantRole, ContactID: w.ContactId, Time: parseTime(w.AbsoluteTime)}
	if it.ContactID == "" {
		it.ContactID = w.RelatedContactId
	}
	for _, a := range w.Attachments {
		it.Attachments = append(it.Attachments, Attachment{ID: a.AttachmentId, Name: a.AttachmentName, ContentType: a.ContentType, Status: a.Status})
	}
	if m := w.MessageMetadata; m != nil {
		it.MessageID = m.MessageId
		for _, r := range m.Receipts {
			it.Receipts = append(it.Receipts, ReceiptInfo{RecipientParticipantID: r.RecipientParticipantId,
				Delivered: parseTime(r.DeliveredTimestamp), Read: parseTime(r.ReadTimestamp)})
		}
	}
	return it
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Event is what a Session delivers on its Events channel: one of
// *Message, *AttachmentEvent, *Typing, *Receipt, *ParticipantEvent,
// *ChatEnded, *OtherEvent, *ConnectionLost and *ConnectionRestored.
type Event interface{ event() }

// Message is a message sent in the chat, the session's own included.
type Message struct{ Item }

// AttachmentEvent announces a file and its status. A file whose checks take
// a while is announced IN_PROGRESS first, then again with its verdict.
type AttachmentEvent struct {
	Item
	Attachment Attachment
}

// Typing says a participant is typing.
type Typing struct{ Item }

// Receipt says a participant got (Read false) or read a message.
type Receipt struct {
	Item
	MessageID string
	// Reader is the participant who got or read the message.
	Reader string
	Read   bool
	At     time.Time
}

// ParticipantEvent is a participant joining, leaving, going idle, returning
// or being disconnected for idleness.
type ParticipantEvent struct {
	Item
	Change string // joined, left, idle, returned, autodisconnection, …
}

// ChatEnded is the end of the chat; no event follows it.
type ChatEnded struct{ Item }

// OtherEvent is an event this package has no type for.
type OtherEvent struct{ Item }

// ConnectionLost says the websocket dropped; the session reconnects by
// itself and delivers what it missed.
type ConnectionLost struct{ Err error }

// ConnectionRestored says the session is connected again and caught up.
type ConnectionRestored struct{}

func (*Message) event()            {}
func (*AttachmentEvent) event()    {}
func (*Typing) event()             {}
func (*Receipt) event()            {}
func (*ParticipantEvent) event()   {}
func (*ChatEnded) event()          {}
func (*OtherEvent) event()         {}
func (*ConnectionLost) event()     {}
func (*ConnectionRestored) event() {}

const eventPrefix = "application/vnd.amazonaws.connect.event."

// Event content types, for SendEvent.
const (
	EventTyping    = eventPrefix + "typing"
	EventDelivered = eventPrefix + "message.delivered"
	EventRead      = eventPrefix + "message.read"
)

// classify turns an item into its event.
func classify(it Item) Event {
	switch {
	case it.Type == "MESSAGE":
		return &Message{it}
	case it.Type == "ATTACHMENT" && len(it.Attachments) > 0:
		return &AttachmentEvent{Item: it, Attachment: it.Attachments[0]}
	case it.Type == "MESSAGEMETADATA" && len(it.Receipts) > 0:
		r := it.Receipts[0]
		at := r.Delivered
		if !r.Read.IsZero() {
			at = r.Read
		}
		return &Receipt{Item: it, MessageID: it.MessageID, Reader: r.RecipientParticipantID, Read: !r.Read.IsZero(), At: at}
	case it.ContentType == EventTyping:
		return &Typing{it}
	case it.ContentType == eventPrefix+"chat.ended":
		return &ChatEnded{it}
	case strings.HasPrefix(it.ContentType, eventPrefix+"participant."):
		return &ParticipantEvent{Item: it, Change: strings.TrimPrefix(it.ContentType, eventPrefix+"participant.")}
	}
	return &OtherEvent{it}
}

// dedupKey identifies an item for de-duplication. An attachment's verdict
// updates the transcript's item in place, so its status is part of the key.
func dedupKey(it Item) string {
	if len(it.Attachments) > 0 {
		return it.Attachments[0].ID + "/" + it.Attachments[0].Status
	}
	return it.ID
}
