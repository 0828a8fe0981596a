package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestParseDefaultsAndEnv(t *testing.T) {
	c, err := Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./parley-data" || c.AttachmentMinFree != 1<<30 {
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
	if c.ThrottleConnect {
		t.Error("throttling is on by default")
	}
	if c, err := Parse(nil, env(map[string]string{"PARLEY_THROTTLE": "connect"})); err != nil || !c.ThrottleConnect {
		t.Errorf("PARLEY_THROTTLE=connect: %v, %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"PARLEY_PUBLIC_URL": "ftp://x"},
		{"PARLEY_ACCESS_KEY_ID": "only-half"},
		{"PARLEY_CONNECTION_TTL": "30s"},
		{"PARLEY_WIDGET": "maybe"},
		{"PARLEY_DATABASE_URL": "mysql://db/parley"},
		{"PARLEY_WIDGET_RATE": "lots"},
		{"PARLEY_WIDGET_RATE": "-1"},
		{"PARLEY_WIDGET_RATE": "0"},
		{"PARLEY_WIDGET_MAX_QUEUED": "0"},
		{"PARLEY_WIDGET_ABANDON": "500ms"},
		{"PARLEY_CONNECT_WITHIN": "-1s"},
		{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.example"},
		{"PARLEY_PPROF": "0.0.0.0:6060"},
		{"PARLEY_PPROF": ":6060"},
		{"PARLEY_PPROF": "192.0.2.1:6060"},
		{"PARLEY_PPROF": "example.com:6060"},
		{"PARLEY_ATTACHMENT_RETENTION": "a month"},
		{"PARLEY_ATTACHMENT_MAX_BYTES": "20MB"},
		{"PARLEY_ATTACHMENT_MIN_FREE": "-1"},
		{"PARLEY_THROTTLE": "aws"},
		{"PARLEY_BODY_TIMEOUT": "0s"},
		{"PARLEY_UPLOAD_MIN_RATE": "-1"},
		{"PARLEY_UPLOAD_LEASE": "500ms"},
		{"PARLEY_MAX_CONNS_PER_ADDR": "-5"},
		{"PARLEY_PARTICIPANT_RATE": "fast"},
		{"PARLEY_CLIENT_BURST": "0"},
	} {
		if _, err := Parse(nil, env(bad)); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

func TestParseSecurityOptions(t *testing.T) {
	c, err := Parse(nil, env(map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1", "PARLEY_PPROF": "[::1]:6060"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].Bits() != 128 {
		t.Errorf("trusted proxies: %v", c.TrustedProxies)
	}
	for _, ok := range []string{"127.0.0.1:6060", "localhost:6060", "127.0.0.2:1"} {
		if _, err := Parse(nil, env(map[string]string{"PARLEY_PPROF": ok})); err != nil {
			t.Errorf("refused PARLEY_PPROF=%s: %v", ok, err)
		}
	}
	_, err = Parse(nil, env(map[string]string{"PARLEY_WIDGET_RATE": "0"}))
	if err == nil || !strings.Contains(err.Error(), "PARLEY_WIDGET_RATE") {
		t.Errorf("a zero widget rate: %v", err)
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

// TestNATSNeedsDatabase: a node told to share chats over NATS but keeping
// them in its own SQLite file would lose every other node's messages.
func TestNATSNeedsDatabase(t *testing.T) {
	_, err := Parse(nil, env(map[string]string{"PARLEY_NATS_URL": "nats://127.0.0.1:4222"}))
	if err == nil || !strings.Contains(err.Error(), "PARLEY_DATABASE_URL") {
		t.Fatalf("NATS without a database: %v", err)
	}
	c, err := Parse(nil, env(map[string]string{"PARLEY_NATS_URL": "nats://127.0.0.1:4222", "PARLEY_DATABASE_URL": "postgres://db/parley", "PARLEY_DRAIN_SECONDS": "3"}))
	if err != nil || c.Drain.Seconds() != 3 || c.NodeID == "" {
		t.Fatalf("NATS with a database: %+v, %v", c, err)
	}
}

// TestShareIdentity: the first node's identity is stored; a second node
// with its own data dir adopts it, except what its environment sets.
func TestShareIdentity(t *testing.T) {
	var stored []byte
	share := func(candidate []byte) ([]byte, error) {
		if stored == nil {
			stored = candidate
		}
		return stored, nil
	}
	node := func(e map[string]string) *Config {
		e["PARLEY_DATA_DIR"], e["PARLEY_DATABASE_URL"] = t.TempDir(), "postgres://db/parley"
		c, err := Parse(nil, env(e))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.LoadIdentity(); err != nil {
			t.Fatal(err)
		}
		if err := c.ShareIdentity(share); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := node(map[string]string{"PARLEY_ACCESS_KEY_ID": "AKIDA", "PARLEY_SECRET_ACCESS_KEY": "secret-a"})
	b := node(map[string]string{})
	c := node(map[string]string{"PARLEY_INSTANCE_ID": "mine"})
	if a.Key != b.Key || b.Key != c.Key || a.QueueID != b.QueueID || a.InstanceID != b.InstanceID {
		t.Errorf("keys or ids differ: %x %x %x", a.Key[:4], b.Key[:4], c.Key[:4])
	}
	if a.AccessKeyID != "AKIDA" || b.AccessKeyID == "" || b.AccessKeyID == "AKIDA" || b.AccessKeyID != c.AccessKeyID {
		t.Errorf("credentials: %q %q %q", a.AccessKeyID, b.AccessKeyID, c.AccessKeyID)
	}
	if c.InstanceID != "mine" {
		t.Errorf("the environment's instance id lost: %q", c.InstanceID)
	}
	if len(b.Generated) != 0 || !b.IdentityShared {
		t.Errorf("b generated %v, shared %v", b.Generated, b.IdentityShared)
	}
	if _, err := os.Stat(filepath.Join(b.DataDir, "identity.json")); err == nil {
		t.Error("identity.json written beside a database")
	}
}
