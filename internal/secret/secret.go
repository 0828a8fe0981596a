// Package secret holds Parley's small cryptographic helpers: bearer tokens
// (random, stored only as hashes), HMAC-signed compact tokens for URLs, and
// sealing of stored responses that contain bearer tokens.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NewToken returns a bearer token with 256 bits from crypto/rand.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is how a bearer token is stored and looked up: the token itself is
// never written anywhere.
func Hash(token string) string {
	var buf [128]byte // tokens are 43 characters: no copy of them on the heap
	sum := sha256.Sum256(append(buf[:0], token...))
	var h [2 * sha256.Size]byte // every request hashes its token: one allocation, the string
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// NewUUID returns a random (version 4) UUID, the id format Amazon Connect uses
// for contacts, participants and items.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

// formatUUID writes b in the 8-4-4-4-12 form, allocating only the string:
// every request takes an id.
func formatUUID(b *[16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// NewTimeUUID returns a version 7 UUID: 48 bits of Unix milliseconds, then
// random bits. Ids that rise with time go to the right edge of an index, so
// inserting one dirties one page instead of a random one; to clients they
// are as opaque as any UUID.
func NewTimeUUID() string {
	var b [16]byte
	rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(&b)
}

// Key is the server's master secret. Purpose-specific keys are derived from
// it so that a signature made for one purpose never verifies for another.
type Key [32]byte

// NewKey returns a fresh random key.
func NewKey() Key {
	var k Key
	rand.Read(k[:])
	return k
}

// Derive returns the sub-key for purpose.
func (k Key) Derive(purpose string) Key {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(purpose))
	var d Key
	copy(d[:], m.Sum(nil))
	return d
}

// Signer makes and checks compact signed tokens: base64url(payload) "." base64url(mac).
type Signer struct{ key Key }

// NewSigner returns a signer for purpose derived from k.
func NewSigner(k Key, purpose string) *Signer { return &Signer{key: k.Derive("sign:" + purpose)} }

// Sign returns the token for payload.
func (s *Signer) Sign(payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

// ErrBadSignature is returned for a token that was not made by this signer.
var ErrBadSignature = errors.New("secret: bad signature")

// strict decodes only what Sign encodes: the unused bits of the last
// character must be zero. (Line breaks, which the decoder still skips, are
// refused by Verify.)
var strict = base64.RawURLEncoding.Strict()

// Verify returns the payload of a token made by Sign. No other spelling
// of the same bytes verifies.
func (s *Signer) Verify(token string) ([]byte, error) {
	if strings.ContainsAny(token, "\r\n") {
		return nil, ErrBadSignature
	}
	for i := 0; i < len(token); i++ {
		if token[i] != '.' {
			continue
		}
		payload, err1 := strict.DecodeString(token[:i])
		mac, err2 := strict.DecodeString(token[i+1:])
		if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(payload)) {
			return nil, ErrBadSignature
		}
		return payload, nil
	}
	return nil, ErrBadSignature
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key[:])
	m.Write(payload)
	return m.Sum(nil)
}

// Sealer encrypts and authenticates small records at rest (AES-256-GCM).
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a sealer for purpose derived from k.
func NewSealer(k Key, purpose string) *Sealer {
	d := k.Derive("seal:" + purpose)
	block, err := aes.NewCipher(d[:])
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: aead}
}

// Seal encrypts plaintext; additional binds it to a context (e.g. its row key).
func (s *Sealer) Seal(plaintext, additional []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, additional)
}

// Open reverses Seal.
func (s *Sealer) Open(sealed, additional []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, fmt.Errorf("secret: sealed record too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], additional)
}
