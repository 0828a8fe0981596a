package parley

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"iter"
	"time"
)

// newClientToken makes the ClientToken that keeps a retried request from
// taking effect twice.
func newClientToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Sent is what the service answers to a message or event.
type Sent struct {
	ID   string
	Time time.Time
}

type sentOut struct{ Id, AbsoluteTime string }

// SendMessage sends a message; contentType is text/plain, text/markdown,
// application/json or an interactive response, as the chat allows.
func (s *Session) SendMessage(ctx context.Context, contentType, content string) (Sent, error) {
	var out sentOut
	err := s.call(ctx, "POST", "/participant/message", s.connectionToken(),
		map[string]string{"ContentType": contentType, "Content": content, "ClientToken": newClientToken()}, &out)
	return Sent{ID: out.Id, Time: parseTime(out.AbsoluteTime)}, err
}

// SendText sends a plain-text message.
func (s *Session) SendText(ctx context.Context, text string) (Sent, error) {
	return s.SendMessage(ctx, "text/plain", text)
}

// SendEvent sends an event: EventTyping, or a receipt (see SendReceipt).
func (s *Session) SendEvent(ctx context.Context, contentType, content string) (Sent, error) {
	in := map[string]string{"ContentType": contentType, "ClientToken": newClientToken()}
	if content != "" {
		in["Content"] = content
	}
	var out sentOut
	err := s.call(ctx, "POST", "/participant/event", s.connectionToken(), in, &out)
	return Sent{ID: out.Id, Time: parseTime(out.AbsoluteTime)}, err
}

// SendTyping tells the others the participant is typing.
func (s *Session) SendTyping(ctx context.Context) error {
	_, err := s.SendEvent(ctx, EventTyping, "")
	return err
}

// SendReceipt tells the others the participant got (read false) or read a
// message.
func (s *Session) SendReceipt(ctx context.Context, messageID string, read bool) error {
	content, _ := json.Marshal(map[string]string{"messageId": messageID})
	typ := EventDelivered
	if read {
		typ = EventRead
	}
	_, err := s.SendEvent(ctx, typ, string(content))
	return err
}

// TranscriptOptions choose which part of the transcript to read.
type TranscriptOptions struct {
	// After reads the items that follow this item id, oldest first.
	After string
	// Ascending reads the whole transcript oldest first; otherwise it is
	// read newest first. Ignored with After.
	Ascending bool
	// Limit stops after this many items; 0 reads to the end.
	Limit int
	// PageSize is how many items each GetTranscript call asks for (1–100);
	// 0 means 100.
	PageSize int

	since time.Time // with Ascending, start at this time instead
}

type transcriptIn struct {
	MaxResults    int            `json:",omitempty"`
	NextToken     string         `json:",omitempty"`
	ScanDirection string         `json:",omitempty"`
	SortOrder     string         `json:",omitempty"`
	StartPosition map[string]any `json:",omitempty"`
}

// Transcript reads the chat's transcript, page by page as it is iterated.
func (s *Session) Transcript(ctx context.Context, o TranscriptOptions) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		in := transcriptIn{MaxResults: o.PageSize, ScanDirection: "BACKWARD", SortOrder: "DESCENDING"}
		if in.MaxResults <= 0 || in.MaxResults > 100 {
			in.MaxResults = 100
		}
		if o.Limit > 0 && o.Limit < in.MaxResults {
			in.MaxResults = o.Limit
		}
		switch {
		case o.After != "":
			in.StartPosition = map[string]any{"Id": o.After}
			in.ScanDirection, in.SortOrder = "FORWARD", "ASCENDING"
		case o.Ascending:
			start := "1970-01-01T00:00:00.000Z"
			if !o.since.IsZero() {
				start = o.since.UTC().Format("2006-01-02T15:04:05.000Z")
			}
			in.StartPosition = map[string]any{"AbsoluteTime": start}
			in.ScanDirection, in.SortOrder = "FORWARD", "ASCENDING"
		}
		n := 0
		for {
			var out struct {
				Transcript []wireItem
				NextToken  string
			}
			if err := s.call(ctx, "POST", "/participant/transcript", s.connectionToken(), in, &out); err != nil {
				yield(Item{}, err)
				return
			}
			for _, w := range out.Transcript {
				if w.Id == o.After && o.After != "" {
					continue // a start position is inclusive
				}
				if !yield(w.item(), nil) {
					return
				}
				if n++; o.Limit > 0 && n >= o.Limit {
					return
				}
			}
			if out.NextToken == "" {
				return
			}
			in.NextToken = out.NextToken
		}
	}
}
