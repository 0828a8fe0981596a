package parley

import (
	"context"
	"encoding/json"
)

// Content types of interactive messages: bots and agents send
// ContentInteractive, customers answer with ContentInteractiveResponse.
const (
	ContentInteractive         = "application/vnd.amazonaws.connect.message.interactive"
	ContentInteractiveResponse = "application/vnd.amazonaws.connect.message.interactive.response"
)

// Template is one of Connect's interactive message templates: *ListPicker,
// *QuickReply, *Panel, *TimePicker, *Carousel or *ViewResource.
type Template interface {
	templateType() string
	content() any
}

// Element is a choice of a ListPicker, QuickReply or Panel.
type Element struct {
	Title            string `json:"title"`
	Subtitle         string `json:"subtitle,omitempty"`
	ImageType        string `json:"imageType,omitempty"` // "URL"
	ImageData        string `json:"imageData,omitempty"`
	ImageDescription string `json:"imageDescription,omitempty"`
}

// ReplyMessage is what a client shows once the customer chose.
type ReplyMessage struct {
	Title    string `json:"title"`
	Subtitle string `json:"subtitle,omitempty"`
}

// ListPicker offers up to six choices.
type ListPicker struct {
	Title, Subtitle string
	Elements        []Element
	Reply           *ReplyMessage
}

// QuickReply offers short answers.
type QuickReply struct {
	Title    string
	Elements []Element
	Reply    *ReplyMessage
}

// Panel offers up to ten choices under a title.
type Panel struct {
	Title, Subtitle string
	Elements        []Element
	Reply           *ReplyMessage
}

// Timeslot is a TimePicker's slot: an ISO 8601 date and minutes.
type Timeslot struct {
	Date     string `json:"date"`
	Duration int    `json:"duration"`
}

// TimePicker offers times.
type TimePicker struct {
	Title, Subtitle string
	TimeZoneOffset  *int
	Timeslots       []Timeslot
	Reply           *ReplyMessage
}

// Carousel shows two to five ListPicker or Panel templates side by side.
type Carousel struct {
	Templates []Template
}

// ViewResource shows a view (DescribeView) by its id.
type ViewResource struct {
	ViewID string
}

func (*ListPicker) templateType() string   { return "ListPicker" }
func (*QuickReply) templateType() string   { return "QuickReply" }
func (*Panel) templateType() string        { return "Panel" }
func (*TimePicker) templateType() string   { return "TimePicker" }
func (*Carousel) templateType() string     { return "Carousel" }
func (*ViewResource) templateType() string { return "ViewResource" }

type titled struct {
	Title          string     `json:"title,omitempty"`
	Subtitle       string     `json:"subtitle,omitempty"`
	TimeZoneOffset *int       `json:"timeZoneOffset,omitempty"`
	Elements       any        `json:"elements,omitempty"`
	Timeslots      []Timeslot `json:"timeslots,omitempty"`
}

func (t *ListPicker) content() any {
	return titled{Title: t.Title, Subtitle: t.Subtitle, Elements: t.Elements}
}
func (t *QuickReply) content() any { return titled{Title: t.Title, Elements: t.Elements} }
func (t *Panel) content() any {
	return titled{Title: t.Title, Subtitle: t.Subtitle, Elements: t.Elements}
}
func (t *TimePicker) content() any {
	return titled{Title: t.Title, Subtitle: t.Subtitle, TimeZoneOffset: t.TimeZoneOffset, Timeslots: t.Timeslots}
}
func (t *Carousel) content() any {
	var els []json.RawMessage
	for _, e := range t.Templates {
		b, _ := MarshalTemplate(e)
		els = append(els, b)
	}
	return titled{Elements: els}
}
func (t *ViewResource) content() any { return map[string]string{"viewId": t.ViewID} }

func replyOf(t Template) *ReplyMessage {
	switch t := t.(type) {
	case *ListPicker:
		return t.Reply
	case *QuickReply:
		return t.Reply
	case *Panel:
		return t.Reply
	case *TimePicker:
		return t.Reply
	}
	return nil
}

// MarshalTemplate returns a template as the Content of an interactive
// message: {"templateType", "version": "1.0", "data": {"content", "replyMessage"}}.
func MarshalTemplate(t Template) ([]byte, error) {
	data := map[string]any{"content": t.content()}
	if r := replyOf(t); r != nil {
		data["replyMessage"] = r
	}
	return json.Marshal(map[string]any{"templateType": t.templateType(), "version": "1.0", "data": data})
}

// SendInteractive sends an interactive message, as a custom bot or an
// agent may, in a chat started with ContentInteractive among its
// SupportedMessagingContentTypes. The service checks the template.
func (s *Session) SendInteractive(ctx context.Context, t Template) (Sent, error) {
	b, err := MarshalTemplate(t)
	if err != nil {
		return Sent{}, err
	}
	return s.SendMessage(ctx, ContentInteractive, string(b))
}

// InteractiveResponse is a customer's answer to an interactive message:
// the template answered, its title and the choice.
type InteractiveResponse struct {
	TemplateType string
	Title        string
	Chosen       json.RawMessage // the Element or Timeslot chosen
}

// ParseInteractiveResponse reads the Content of an interactive.response
// message as Parley's widget sends it.
func ParseInteractiveResponse(content string) (InteractiveResponse, error) {
	var in struct {
		TemplateType string `json:"templateType"`
		Data         struct {
			Content struct {
				Title    string            `json:"title"`
				Elements []json.RawMessage `json:"elements"`
			} `json:"content"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(content), &in); err != nil {
		return InteractiveResponse{}, err
	}
	r := InteractiveResponse{TemplateType: in.TemplateType, Title: in.Data.Content.Title}
	if len(in.Data.Content.Elements) > 0 {
		r.Chosen = in.Data.Content.Elements[0]
	}
	return r, nil
}
