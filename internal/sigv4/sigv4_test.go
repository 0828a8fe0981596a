package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/parleychat/parley/internal/awswire"
)

var verifier = &Verifier{Service: "connect", Secret: func(id string) (string, bool) { return "s3cret", id == "AKID" }}

func hash(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

// signed builds a server-side request signed as a client would sign it.
func signed(t *testing.T, method, target, body string, prepare func(*http.Request), secret string, at time.Time) *http.Request {
	t.Helper()
	client, _ := http.NewRequest(method, "http://127.0.0.1:8080"+target, strings.NewReader(body))
	client.Header.Set("Content-Type", "application/json")
	if prepare != nil {
		prepare(client)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: secret},
		client, hash(body), "connect", "eu-west-2", at); err != nil {
		t.Fatal(err)
	}
	server := httptest.NewRequest(method, target, strings.NewReader(body))
	server.Host = "127.0.0.1:8080"
	server.Header = client.Header.Clone()
	if client.ContentLength > 0 {
		server.Header.Set("Content-Length", client.Header.Get("Content-Length"))
	}
	return server
}

func errType(err error) string {
	var e *awswire.Error
	if errors.As(err, &e) {
		return e.Type
	}
	return ""
}

func TestVerify(t *testing.T) {
	now := time.Now()
	body := `{"InstanceId":"i"}`
	jsStyle := func(r *http.Request) { // JS v3 sends and signs the payload hash
		r.Header.Set("X-Amz-Content-Sha256", hash(body))
		r.Header.Set("X-Amz-User-Agent", "aws-sdk-js/3")
	}
	tests := []struct {
		name string
		req  *http.Request
		want string // "" for valid
	}{
		{"go style", signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now), ""},
		{"js style", signed(t, "PUT", "/contact/chat", body, jsStyle, "s3cret", now), ""},
		{"escaped path and query", signed(t, "GET", "/contacts/i%2Fx/c%20d?a=1&b=x%20y", "", nil, "s3cret", now), ""},
		{"wrong secret", signed(t, "PUT", "/contact/chat", body, nil, "other", now), "InvalidSignatureException"},
		{"stale", signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now.Add(-6*time.Minute)), "InvalidSignatureException"},
		{"from the future", signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now.Add(6*time.Minute)), "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.req.Method == "GET" {
				b = ""
			}
			err := verifier.Verify(tt.req, []byte(b))
			if got := errType(err); got != tt.want {
				t.Errorf("Verify = %v, want %q", err, tt.want)
			}
		})
	}

	r := signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now)
	if err := verifier.Verify(r, []byte(`{"InstanceId":"j"}`)); errType(err) != "InvalidSignatureException" {
		t.Errorf("changed body: %v", err)
	}
	r = signed(t, "PUT", "/contact/chat", body, jsStyle, "s3cret", now)
	if err := verifier.Verify(r, []byte(`{"InstanceId":"j"}`)); errType(err) != "InvalidSignatureException" {
		t.Errorf("changed body under a signed payload hash: %v", err)
	}
	r = signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now)
	r.Header.Set("Content-Type", "text/plain")
	if err := verifier.Verify(r, []byte(body)); errType(err) != "InvalidSignatureException" {
		t.Errorf("changed signed header: %v", err)
	}
	r = signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now)
	r.URL.Path, r.URL.RawPath = "/contact/stop", ""
	if err := verifier.Verify(r, []byte(body)); errType(err) != "InvalidSignatureException" {
		t.Errorf("changed path: %v", err)
	}
	r = signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now)
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKID", "NOPE", 1))
	if err := verifier.Verify(r, []byte(body)); errType(err) != "UnrecognizedClientException" {
		t.Errorf("unknown key: %v", err)
	}
	r.Header.Del("Authorization")
	if err := verifier.Verify(r, []byte(body)); errType(err) != "MissingAuthenticationTokenException" {
		t.Errorf("no Authorization: %v", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/connect/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 Credential=/20261123/us-east-1/execute-api/aws4_request,SignedHeaders=,Signature=")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, h string) {
		c, err := ParseAuthorization(h)
		if err != nil {
			if errType(err) != "IncompleteSignatureException" {
				t.Fatalf("error %v is not IncompleteSignatureException", err)
			}
			return
		}
		if c.AccessKeyID == "" || c.Signature == "" || len(c.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete header %q: %+v", h, c)
		}
	})
}

// TestDateHeaderCovered checks that X-Amz-Date is verified as it was sent:
// the signature covers the header's text, so a request whose header was
// changed after signing, even to a value that names the same second, or
// given a second value, must not verify.
func TestDateHeaderCovered(t *testing.T) {
	now := time.Now()
	body := `{"InstanceId":"i"}`
	for _, tt := range []struct {
		name   string
		change func(h http.Header)
	}{
		{"fraction appended", func(h http.Header) { h.Set("X-Amz-Date", strings.TrimSuffix(h.Get("X-Amz-Date"), "Z")+".999Z") }},
		{"comma fraction appended", func(h http.Header) { h.Set("X-Amz-Date", strings.TrimSuffix(h.Get("X-Amz-Date"), "Z")+",5Z") }},
		{"second value", func(h http.Header) { h.Add("X-Amz-Date", now.Add(time.Hour).UTC().Format("20060102T150405Z")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, "PUT", "/contact/chat", body, nil, "s3cret", now)
			if err := verifier.Verify(r, []byte(body)); err != nil {
				t.Fatalf("unchanged request: %v", err)
			}
			tt.change(r.Header)
			if err := verifier.Verify(r, []byte(body)); err == nil {
				t.Errorf("Verify accepted X-Amz-Date %q, which the client did not sign", r.Header.Values("X-Amz-Date"))
			}
		})
	}
}

// TestSkewMessages: outside the window, AWS words a stale and a future
// X-Amz-Date differently ("Signature expired: … is now earlier than …",
// "Signature not yet current: … is still later than …").
func TestSkewMessages(t *testing.T) {
	now := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)
	v := *verifier
	v.Now = func() time.Time { return now }
	body := `{"InstanceId":"i"}`
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-6 * time.Minute), "Signature expired: 20261129T145400Z is now earlier than 20261129T145500Z (20261129T150000Z - 5 min.)"},
		{now.Add(6 * time.Minute), "Signature not yet current: 20261129T150600Z is still later than 20261129T150500Z (20261129T150000Z + 5 min.)"},
	} {
		err := v.Verify(signed(t, "PUT", "/contact/chat", body, nil, "s3cret", tt.at), []byte(body))
		var e *awswire.Error
		if !errors.As(err, &e) || e.Type != "InvalidSignatureException" || e.Status != http.StatusForbidden || e.Message != tt.want {
			t.Errorf("signed at %s: %v, want 403 InvalidSignatureException: %s", tt.at, err, tt.want)
		}
	}
}

// TestTabsInSignedHeaders: botocore and the JS SDK canonicalise a header
// value by turning every run of whitespace, a tab included, into one
// space; Go's signer collapses runs of spaces only. A request signed
// either way verifies.
func TestTabsInSignedHeaders(t *testing.T) {
	now := time.Now()
	body := `{}`
	const sent = "a\tb  c"
	// What botocore signs for sent is what Go's signer signs for "a b c".
	boto := signed(t, "POST", "/contact/stop", body, func(r *http.Request) { r.Header.Set("X-Amz-Meta", "a b c") }, "s3cret", now)
	boto.Header.Set("X-Amz-Meta", sent)
	goSigned := signed(t, "POST", "/contact/stop", body, func(r *http.Request) { r.Header.Set("X-Amz-Meta", sent) }, "s3cret", now)
	for name, r := range map[string]*http.Request{"botocore": boto, "Go": goSigned} {
		if err := verifier.Verify(r, []byte(body)); err != nil {
			t.Errorf("signed as %s does: %v", name, err)
		}
	}
	// The second canonical form is no way around the signature.
	forged := signed(t, "POST", "/contact/stop", body, func(r *http.Request) { r.Header.Set("X-Amz-Meta", "a b c") }, "s3cret", now)
	forged.Header.Set("X-Amz-Meta", "a\tb d")
	if err := verifier.Verify(forged, []byte(body)); errType(err) != "InvalidSignatureException" {
		t.Errorf("a changed value: %v, want InvalidSignatureException", err)
	}
}
