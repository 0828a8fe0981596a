package config

import (
	"net"
	"testing"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestParseDefaultsAndEnv(t *testing.T) {
	c, err := Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./parley-data" {
		t.Errorf("defaults: %+v", c)
	}
	if c.BodyTimeout.Seconds() != 30 || c.UploadMinRate != 1024 || c.ParticipantRate != 10 || c.ParticipantBurst != 300 ||
		c.ClientRate != 500 || c.ClientBurst != 1000 || c.MaxConns != 0 || c.MaxConnsPerAddr != 0 {
		t.Errorf("limit defaults: %+v", c)
	}
	c, err = Parse(nil, env(map[string]string{"PARLEY_PARTICIPANT_RATE": "0.5", "PARLEY_MAX_CONNS": "200", "PARLEY_BODY_TIMEOUT": "5s"}))
	if err != nil || c.ParticipantRate != 0.5 || c.MaxConns != 200 || c.BodyTimeout.Seconds() != 5 {
		t.Errorf("limits from the environment: %+v, %v", c, err)
	}
	c, err = Parse([]string{"-addr", ":9000"}, env(map[string]string{"PARLEY_ADDR": "127.0.0.1:1", "PARLEY_PUBLIC_URL": "https://chat.example.com/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.PublicURL != "https://chat.example.com" {
		t.Errorf("flag over env, trimmed URL: %+v", c)
	}
	for _, bad := range []map[string]string{
		{"PARLEY_PUBLIC_URL": "ftp://x"},
		{"PARLEY_ACCESS_KEY_ID": "only-half"},
		{"PARLEY_CONNECTION_TTL": "30s"},
		{"PARLEY_WIDGET": "maybe"},
		{"PARLEY_WIDGET_RATE": "lots"},
		{"PARLEY_WIDGET_RATE": "-1"},
		{"PARLEY_ATTACHMENT_RETENTION": "a month"},
		{"PARLEY_ATTACHMENT_MAX_BYTES": "20MB"},
		{"PARLEY_BODY_TIMEOUT": "0s"},
		{"PARLEY_UPLOAD_MIN_RATE": "-1"},
		{"PARLEY_MAX_CONNS_PER_ADDR": "-5"},
		{"PARLEY_PARTICIPANT_RATE": "fast"},
		{"PARLEY_CLIENT_BURST": "0"},
	} {
		if _, err := Parse(nil, env(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

func TestIdentityIsGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, _ := Parse(nil, env(map[string]string{"PARLEY_DATA_DIR": dir}))
	if err := a.LoadIdentity(); err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID == "" || len(a.SecretAccessKey) < 32 || a.InstanceID == "" || len(a.Generated) != 2 {
		t.Fatalf("generated identity: %+v", a)
	}
	b, _ := Parse(nil, env(map[string]string{"PARLEY_DATA_DIR": dir}))
	if err := b.LoadIdentity(); err != nil {
		t.Fatal(err)
	}
	if b.AccessKeyID != a.AccessKeyID || b.SecretAccessKey != a.SecretAccessKey || b.InstanceID != a.InstanceID || b.Key != a.Key || len(b.Generated) != 0 {
		t.Errorf("second start changed the identity: %+v vs %+v", b, a)
	}
	c, _ := Parse(nil, env(map[string]string{"PARLEY_DATA_DIR": dir, "PARLEY_ACCESS_KEY_ID": "K", "PARLEY_SECRET_ACCESS_KEY": "S", "PARLEY_INSTANCE_ID": "mine"}))
	if err := c.LoadIdentity(); err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "K" || c.InstanceID != "mine" || c.Key != a.Key {
		t.Errorf("configured values must win, the key stays: %+v", c)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ public, listen, want string }{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"", "[::]:8080", "http://127.0.0.1:8080"},
		{"https://chat.example.com", "0.0.0.0:8080", "https://chat.example.com"},
	}
	for _, tt := range tests {
		addr, _ := net.ResolveTCPAddr("tcp", tt.listen)
		c := &Config{PublicURL: tt.public}
		if got := c.BaseURL(addr); got != tt.want {
			t.Errorf("BaseURL(%s, %s) = %s, want %s", tt.public, tt.listen, got, tt.want)
		}
	}
	if WebsocketBase("https://x.example") != "wss://x.example" || WebsocketBase("http://127.0.0.1:1") != "ws://127.0.0.1:1" {
		t.Error("WebsocketBase")
	}
}
