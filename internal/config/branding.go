package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Branding is how the customer widget looks. The page may override each
// field (the embed tag's data- attributes); these are the defaults.
type Branding struct {
	Title    string
	Color    string // #rgb or #rrggbb
	Logo     string // an https URL or a path on this server; "" for none
	Welcome  string
	Position string // right or left
}

var colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ValidColor reports whether c is a colour the widget takes.
func ValidColor(c string) bool { return colorRE.MatchString(c) }

// ValidLogo reports whether l is a logo the widget's pages may show: an
// https URL, or a path on Parley's own origin.
func ValidLogo(l string) bool {
	if l == "" {
		return true
	}
	if strings.HasPrefix(l, "/") && !strings.HasPrefix(l, "//") {
		return true
	}
	u, err := url.Parse(l)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// Check reports the first field that is not valid.
func (b *Branding) Check() error {
	switch {
	case utf8.RuneCountInString(b.Title) > 60:
		return fmt.Errorf("PARLEY_WIDGET_TITLE must be at most 60 characters")
	case !ValidColor(b.Color):
		return fmt.Errorf("PARLEY_WIDGET_COLOR must be #rgb or #rrggbb, not %q", b.Color)
	case !ValidLogo(b.Logo):
		return fmt.Errorf("PARLEY_WIDGET_LOGO must be an https URL or a path on this server, not %q", b.Logo)
	case utf8.RuneCountInString(b.Welcome) > 500:
		return fmt.Errorf("PARLEY_WIDGET_WELCOME must be at most 500 characters")
	case b.Position != "right" && b.Position != "left":
		return fmt.Errorf("PARLEY_WIDGET_POSITION must be right or left, not %q", b.Position)
	}
	return nil
}
