// Package chatwire is the JSON shape of chat items as the participant
// service returns them in GetTranscript and pushes them on websockets.
package chatwire

import (
	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/store"
)

// Item is the participant service's Item shape. InitialContactId is set only
// on websocket pushes, as Connect does.
type Item struct {
	AbsoluteTime     string           `json:"AbsoluteTime,omitempty"`
	Content          string           `json:"Content,omitempty"`
	ContentType      string           `json:"ContentType,omitempty"`
	Id               string           `json:"Id"`
	Type             string           `json:"Type"`
	ParticipantId    string           `json:"ParticipantId,omitempty"`
	DisplayName      string           `json:"DisplayName,omitempty"`
	ParticipantRole  string           `json:"ParticipantRole,omitempty"`
	Attachments      []Attachment     `json:"Attachments,omitempty"`
	MessageMetadata  *MessageMetadata `json:"MessageMetadata,omitempty"`
	RelatedContactId string           `json:"RelatedContactId,omitempty"`
	ContactId        string           `json:"ContactId,omitempty"`
	InitialContactId string           `json:"InitialContactId,omitempty"`
}

// InSession returns w as GetTranscript returns it to a participant of
// contact current: an item sent on another contact of a persistent chat's
// chain, a past session, names that contact as RelatedContactId instead of
// ContactId, which the model populates "only when the transcript item is
// from the current chat session".
func (w Item) InSession(current string) Item {
	if w.ContactId != "" && w.ContactId != current {
		w.RelatedContactId, w.ContactId = w.ContactId, ""
	}
	return w
}

// Attachment is the AttachmentItem shape.
type Attachment struct {
	ContentType    string `json:"ContentType,omitempty"`
	AttachmentId   string `json:"AttachmentId"`
	AttachmentName string `json:"AttachmentName,omitempty"`
	Status         string `json:"Status,omitempty"`
}

// MessageMetadata carries the receipts of a message.
type MessageMetadata struct {
	MessageId string    `json:"MessageId"`
	Receipts  []Receipt `json:"Receipts,omitempty"`
}

// Receipt is one participant's delivered or read time of a message.
type Receipt struct {
	DeliveredTimestamp     string `json:"DeliveredTimestamp,omitempty"`
	ReadTimestamp          string `json:"ReadTimestamp,omitempty"`
	RecipientParticipantId string `json:"RecipientParticipantId"`
}

// FromStore converts a stored item.
func FromStore(it store.Item) Item {
	w := Item{
		AbsoluteTime:    awswire.FormatTime(it.Time),
		Content:         it.Content,
		ContentType:     it.ContentType,
		Id:              it.ID,
		Type:            it.Type,
		ParticipantId:   it.ParticipantID,
		DisplayName:     it.DisplayName,
		ParticipantRole: it.Role,
		ContactId:       it.ContactID,
	}
	for _, a := range it.Attachments {
		w.Attachments = append(w.Attachments, Attachment{ContentType: a.ContentType, AttachmentId: a.ID, AttachmentName: a.Name, Status: a.Status})
	}
	if len(w.Attachments) > 0 {
		w.ContentType = "" // Connect sends attachment items without a top-level content type
	}
	messageID := it.MessageID
	if messageID == "" && len(it.Receipts) > 0 {
		messageID = it.ID // a message carrying its own receipts, in a transcript
	}
	if messageID != "" {
		w.MessageMetadata = &MessageMetadata{MessageId: messageID}
		for _, r := range it.Receipts {
			wr := Receipt{RecipientParticipantId: r.RecipientID}
			if !r.Delivered.IsZero() {
				wr.DeliveredTimestamp = awswire.FormatTime(r.Delivered)
			}
			if !r.Read.IsZero() {
				wr.ReadTimestamp = awswire.FormatTime(r.Read)
			}
			w.MessageMetadata.Receipts = append(w.MessageMetadata.Receipts, wr)
		}
	}
	if it.Type == "MESSAGEMETADATA" {
		w.Content, w.ContentType = "", ""
	}
	return w
}
