package chat

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MaxInteractiveBytes is the most an interactive message may hold: the
// admin guide's "the SendMessage API checks only that the total size of
// the string is less than 20KB".
const MaxInteractiveBytes = 20 * 1024

// Interactive templates, as the admin guide's "Add interactive messages to
// chat" documents them. Their string fields' lengths are for clients to
// enforce ("expected to be enforced by the client"); "all other field
// limits must be followed for the message to be successfully sent": the
// mandatory fields, the version and the number of elements.
const (
	TemplateListPicker   = "ListPicker"
	TemplateTimePicker   = "TimePicker"
	TemplatePanel        = "Panel"
	TemplateQuickReply   = "QuickReply"
	TemplateCarousel     = "Carousel"
	TemplateViewResource = "ViewResource"
)

// elementLimits are each template's least and most elements (timeslots for
// the time picker, templates for the carousel).
var elementLimits = map[string][2]int{
	TemplateListPicker: {1, 6},
	TemplateTimePicker: {1, 40},
	TemplatePanel:      {1, 10},
	TemplateQuickReply: {1, 10},
	TemplateCarousel:   {2, 5},
}

type interactiveMessage struct {
	TemplateType *string `json:"templateType"`
	Version      *string `json:"version"`
	Data         *struct {
		Content      map[string]json.RawMessage `json:"content"`
		ReplyMessage map[string]json.RawMessage `json:"replyMessage"`
	} `json:"data"`
}

// validateInteractive checks an interactive message against its template.
func validateInteractive(content string) error {
	if len(content) > MaxInteractiveBytes {
		return errorf(Invalid, "An interactive message must be less than 20KB; it has %d bytes.", len(content))
	}
	return checkTemplate([]byte(content), "", true)
}

func checkTemplate(raw []byte, where string, top bool) error {
	var m interactiveMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return errorf(Invalid, "%sAn interactive message is a JSON object {templateType, version, data}: %v", where, err)
	}
	if m.TemplateType == nil {
		return errorf(Invalid, "%stemplateType is mandatory.", where)
	}
	typ := *m.TemplateType
	if _, ok := elementLimits[typ]; !ok && typ != TemplateViewResource {
		return errorf(Invalid, "%stemplateType %q is not one of ListPicker, TimePicker, Panel, QuickReply, Carousel and ViewResource.", where, typ)
	}
	if !top && typ != TemplateListPicker && typ != TemplatePanel {
		return errorf(Invalid, "%sa carousel holds ListPicker and Panel templates, not %s.", where, typ)
	}
	if m.Version == nil || *m.Version != "1.0" {
		return errorf(Invalid, "%sversion is mandatory and must be \"1.0\".", where)
	}
	if m.Data == nil || m.Data.Content == nil {
		return errorf(Invalid, "%sdata.content is mandatory.", where)
	}
	c := m.Data.Content
	if m.Data.ReplyMessage != nil && !nonEmptyString(m.Data.ReplyMessage["title"]) {
		return errorf(Invalid, "%sdata.replyMessage.title is mandatory when replyMessage is present.", where)
	}
	if typ == TemplateViewResource {
		if !nonEmptyString(c["viewId"]) && !nonEmptyString(c["viewToken"]) {
			return errorf(Invalid, "%sdata.content.viewId is mandatory for ViewResource.", where)
		}
		return nil
	}
	if typ != TemplateCarousel && !nonEmptyString(c["title"]) {
		return errorf(Invalid, "%sdata.content.title is mandatory for %s.", where, typ)
	}
	field := "elements"
	if typ == TemplateTimePicker {
		field = "timeslots"
	}
	var elements []json.RawMessage
	if raw, ok := c[field]; !ok || json.Unmarshal(raw, &elements) != nil {
		return errorf(Invalid, "%sdata.content.%s is mandatory for %s and is a list.", where, field, typ)
	}
	lim := elementLimits[typ]
	if len(elements) < lim[0] || len(elements) > lim[1] {
		return errorf(Invalid, "%s%s takes %d to %d %s; it has %d.", where, typ, lim[0], lim[1], field, len(elements))
	}
	for i, e := range elements {
		at := fmt.Sprintf("%sdata.content.%s[%d]: ", where, field, i)
		switch typ {
		case TemplateCarousel:
			if err := checkTemplate(e, at, false); err != nil {
				return err
			}
		case TemplateTimePicker:
			var slot struct {
				Date     *string `json:"date"`
				Duration *int    `json:"duration"`
			}
			if json.Unmarshal(e, &slot) != nil || slot.Date == nil || *slot.Date == "" || slot.Duration == nil || *slot.Duration < 1 {
				return errorf(Invalid, "%sa timeslot needs a date and a duration in minutes.", at)
			}
		default:
			var el map[string]json.RawMessage
			if json.Unmarshal(e, &el) != nil || !nonEmptyString(el["title"]) {
				return errorf(Invalid, "%san element needs a title.", at)
			}
		}
	}
	return nil
}

func nonEmptyString(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != ""
}
