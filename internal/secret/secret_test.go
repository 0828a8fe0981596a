package secret

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/race"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) < 16 {
			t.Fatalf("token %q: %d bytes, %v; want ≥128 bits", tok, len(b), err)
		}
		if seen[tok] {
			t.Fatal("repeated token")
		}
		seen[tok] = true
		if Hash(tok) == tok || len(Hash(tok)) != 64 {
			t.Fatalf("Hash(%q) = %q", tok, Hash(tok))
		}
	}
}

func TestHash(t *testing.T) {
	// SHA-256 of "abc" (FIPS 180-2), in lower-case hex: how tokens are stored.
	if h := Hash("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Hash(abc) = %s", h)
	}
}

// TestIDsAllocateOnce: every request takes an id and hashes a token.
func TestIDsAllocateOnce(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	tok := NewToken()
	for name, f := range map[string]func(){"NewUUID": func() { NewUUID() }, "NewTimeUUID": func() { NewTimeUUID() },
		"Hash": func() { Hash(tok) }} {
		if n := testing.AllocsPerRun(100, f); n > 1 {
			t.Errorf("%s allocates %v times, want 1", name, n)
		}
	}
}

func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for range 100 {
		if id := NewUUID(); !re.MatchString(id) {
			t.Fatalf("%q is not a version 4 UUID", id)
		}
	}
}

func TestSigner(t *testing.T) {
	k := NewKey()
	s := NewSigner(k, "a")
	tok := s.Sign([]byte("payload"))
	if p, err := s.Verify(tok); err != nil || string(p) != "payload" {
		t.Fatalf("Verify = %q, %v", p, err)
	}
	if _, err := NewSigner(k, "b").Verify(tok); err == nil {
		t.Error("a token verified for another purpose")
	}
	if _, err := NewSigner(NewKey(), "a").Verify(tok); err == nil {
		t.Error("a token verified under another key")
	}
	tampered := []byte(tok)
	tampered[2] ^= 1
	if _, err := s.Verify(string(tampered)); err == nil {
		t.Error("a tampered token verified")
	}
	// Only the token Sign made verifies, not another spelling of the same
	// bytes: base64 that sets the unused bits of its last character, or
	// that has line breaks, which the decoder would skip.
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	payload, mac, _ := strings.Cut(tok, ".")
	for _, other := range []string{
		payload + "." + mac[:len(mac)-1] + string(b64[strings.IndexByte(b64, mac[len(mac)-1])^1]), // its last 2 bits are unused
		payload[:2] + "\n" + payload[2:] + "." + mac,
		payload + "." + mac[:4] + "\r\n" + mac[4:],
	} {
		if _, err := s.Verify(other); err == nil {
			t.Errorf("%q verified, which Sign never made", other)
		}
	}
}

func FuzzSignerVerify(f *testing.F) {
	s := NewSigner(Key{1}, "fuzz")
	f.Add(s.Sign([]byte(`{"c":"x","s":1,"f":true}`)))
	f.Add("eyJjIjoieCJ9.AAAA")
	f.Add(".")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := s.Verify(tok)
		if err == nil && s.Sign(p) != tok {
			t.Fatalf("verified %q, which Sign never made", tok)
		}
	})
}

func TestSealer(t *testing.T) {
	s := NewSealer(NewKey(), "x")
	sealed := s.Seal([]byte("secret token"), []byte("row-1"))
	if p, err := s.Open(sealed, []byte("row-1")); err != nil || string(p) != "secret token" {
		t.Fatalf("Open = %q, %v", p, err)
	}
	if _, err := s.Open(sealed, []byte("row-2")); err == nil {
		t.Error("a record opened under another row's key")
	}
	if _, err := s.Open(sealed[:5], nil); err == nil {
		t.Error("a truncated record opened")
	}
}

func TestNewTimeUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	prev := ""
	for range 100 {
		id := NewTimeUUID()
		if !re.MatchString(id) {
			t.Fatalf("%q is not a version 7 UUID", id)
		}
		if id[:13] < prev[:min(13, len(prev))] {
			t.Fatalf("%s sorts before the earlier %s", id, prev)
		}
		prev = id
	}
}
