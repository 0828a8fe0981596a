package config

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/attach"
)

// fuzzEnvNames are the variables whose values Parse reads as numbers,
// durations, lists and URLs.
var fuzzEnvNames = []string{"PARLEY_ATTACHMENT_MAX_BYTES", "PARLEY_RETENTION", "PARLEY_ATTACHMENT_RETENTION", "PARLEY_ATTACHMENT_MIN_FREE",
	"PARLEY_CONNECTION_TTL", "PARLEY_CONNECT_WITHIN", "PARLEY_DRAIN_SECONDS", "PARLEY_BODY_TIMEOUT", "PARLEY_UPLOAD_MIN_RATE",
	"PARLEY_UPLOAD_LEASE", "PARLEY_MAX_CONNS", "PARLEY_MAX_CONNS_PER_ADDR", "PARLEY_PARTICIPANT_RATE", "PARLEY_PARTICIPANT_BURST",
	"PARLEY_CLIENT_RATE", "PARLEY_CLIENT_BURST", "PARLEY_WIDGET_RATE", "PARLEY_WIDGET_MAX_QUEUED", "PARLEY_WIDGET_ABANDON",
	"PARLEY_S3_PATH_STYLE", "PARLEY_PUBLIC_URL", "PARLEY_TRUSTED_PROXIES", "PARLEY_PPROF", "PARLEY_WIDGET_COLOR", "PARLEY_WIDGET_LOGO",
	"PARLEY_WIDGET_ORIGINS", "PARLEY_THROTTLE", "PARLEY_LOG_LEVEL"}

// FuzzParseEnv: whatever one variable holds, Parse refuses it or gives a
// configuration within every documented bound, holding the value as
// written (no overflow turns a large number into a small one).
func FuzzParseEnv(f *testing.F) {
	for _, s := range [][2]string{{"PARLEY_DRAIN_SECONDS", "20"}, {"PARLEY_DRAIN_SECONDS", "18446744074"}, {"PARLEY_PARTICIPANT_RATE", "0.5"},
		{"PARLEY_PARTICIPANT_RATE", "NaN"}, {"PARLEY_CLIENT_RATE", "+Inf"}, {"PARLEY_CONNECTION_TTL", "65s"}, {"PARLEY_RETENTION", "2160h"},
		{"PARLEY_ATTACHMENT_MAX_BYTES", "104857600"}, {"PARLEY_MAX_CONNS", "-1"}, {"PARLEY_PUBLIC_URL", "https://chat.example.com/"},
		{"PARLEY_PUBLIC_URL", "http://[::1]:80"}, {"PARLEY_TRUSTED_PROXIES", "10.0.0.0/8, ::1"}, {"PARLEY_PPROF", "127.0.0.1:6060"},
		{"PARLEY_WIDGET_COLOR", "#abc"}, {"PARLEY_WIDGET_LOGO", "https://x/logo.png"}, {"PARLEY_S3_PATH_STYLE", "T"}} {
		for i, n := range fuzzEnvNames {
			if n == s[0] {
				f.Add(uint8(i), s[1])
			}
		}
	}
	f.Fuzz(func(t *testing.T, at uint8, value string) {
		name := fuzzEnvNames[int(at)%len(fuzzEnvNames)]
		c, err := Parse(nil, func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err != nil {
			return
		}
		nonNegative := []time.Duration{c.ChatRetention, c.AttachmentRetention, c.ConnectWithin, c.Drain}
		for _, d := range nonNegative {
			if d < 0 {
				t.Fatalf("%s=%q: a negative duration in %+v", name, value, c)
			}
		}
		if c.ConnectionTTL < 65*time.Second || c.UploadLease < time.Second || c.WidgetAbandon < time.Second || c.BodyTimeout <= 0 {
			t.Fatalf("%s=%q: durations out of bounds in %+v", name, value, c)
		}
		if c.AttachmentMaxBytes < 1 || c.AttachmentMaxBytes > attach.MaxBytesCeiling || c.AttachmentMinFree < 0 || c.UploadMinRate < 0 ||
			c.MaxConns < 0 || c.MaxConnsPerAddr < 0 || c.ParticipantBurst < 1 || c.ClientBurst < 1 || c.WidgetPerMinute < 1 || c.WidgetMaxQueued < 1 {
			t.Fatalf("%s=%q: limits out of bounds in %+v", name, value, c)
		}
		for _, r := range []float64{c.ParticipantRate, c.ClientRate} {
			if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
				t.Fatalf("%s=%q: rate %v accepted", name, value, r)
			}
		}
		switch name {
		case "PARLEY_DRAIN_SECONDS":
			n, _ := strconv.ParseInt(value, 10, 64)
			if value == "" {
				n = 20 // the default
			}
			if c.Drain%time.Second != 0 || int64(c.Drain/time.Second) != n {
				t.Fatalf("%s=%q: drain %v", name, value, c.Drain)
			}
		case "PARLEY_PUBLIC_URL":
			if value == "" {
				return // unset: the base comes from the listen address
			}
			ws := WebsocketBase(c.PublicURL)
			u, err := url.Parse(ws)
			if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || strings.HasSuffix(c.PublicURL, "/") {
				t.Fatalf("%s=%q: public URL %q, websocket base %q (%v)", name, value, c.PublicURL, ws, err)
			}
		}
	})
}
