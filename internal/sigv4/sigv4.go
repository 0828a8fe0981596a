// Package sigv4 verifies AWS Signature Version 4 on incoming requests by
// re-signing them with aws-sdk-go-v2's own signer.
//
// The request is rebuilt from exactly the headers the client lists in
// SignedHeaders, because clients differ in what they sign: aws-sdk-go-v2
// does not send x-amz-content-sha256, the JS v3 SDK sends and signs it
// (shared/notes/participant-api.md §10).
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/parleychat/parley/internal/awswire"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock,
// as on AWS.
const MaxSkew = 5 * time.Minute

// Verifier checks signatures for one service name.
type Verifier struct {
	Service string
	// Secret returns the secret key of an access key id.
	Secret func(accessKeyID string) (string, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Credential is the parsed Authorization header.
type Credential struct {
	AccessKeyID   string
	Date          string // yyyymmdd
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

const algorithm = "AWS4-HMAC-SHA256"

// amzDateLayout is X-Amz-Date's ISO 8601 basic format.
const amzDateLayout = "20060102T150405Z"

func forbidden(typ, format string, args ...any) *awswire.Error {
	return awswire.Errorf(http.StatusForbidden, typ, format, args...)
}

// ParseAuthorization parses an AWS4-HMAC-SHA256 Authorization header.
func ParseAuthorization(h string) (Credential, error) {
	var c Credential
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return c, awswire.Errorf(http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires the %s algorithm.", algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return c, awswire.Errorf(http.StatusBadRequest, "IncompleteSignatureException", "Credential must have the form AKID/date/region/service/aws4_request.")
			}
			c.AccessKeyID, c.Date, c.Region, c.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			c.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			c.Signature = v
		}
	}
	if c.AccessKeyID == "" || len(c.SignedHeaders) == 0 || c.Signature == "" {
		return c, awswire.Errorf(http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature.")
	}
	return c, nil
}

// Verify checks r's signature over body. It returns an *awswire.Error shaped
// as AWS answers a bad signature.
func (v *Verifier) Verify(r *http.Request, body []byte) error {
	c, secret, signedAt, err := v.headers(r)
	if err != nil {
		return err
	}
	return v.verifyBody(r, body, c, secret, signedAt)
}

// CheckHeaders runs the checks that need no body: the Authorization header,
// a known access key, the service and the date. A server runs it before it
// reads the body, so that an unsigned client cannot make it read one.
func (v *Verifier) CheckHeaders(r *http.Request) error {
	_, _, _, err := v.headers(r)
	return err
}

func (v *Verifier) headers(r *http.Request) (c Credential, secret string, signedAt time.Time, err error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return c, "", signedAt, forbidden("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	c, err = ParseAuthorization(auth)
	if err != nil {
		return c, "", signedAt, err
	}
	secret, ok := v.Secret(c.AccessKeyID)
	if !ok {
		return c, "", signedAt, forbidden("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if c.Service != v.Service {
		return c, "", signedAt, forbidden("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if !slices.Contains(c.SignedHeaders, "host") {
		return c, "", signedAt, forbidden("InvalidSignatureException", "The host header must be signed.")
	}
	// The signature covers the header's text, but the signer rebuilds it
	// from signedAt: only one value, in exactly the layout (time.Parse also
	// takes a fraction of a second), is the text the client signed.
	var date string
	if dates := r.Header.Values("X-Amz-Date"); len(dates) == 1 {
		date = dates[0]
	}
	signedAt, err = time.Parse(amzDateLayout, date)
	if err != nil || signedAt.Format(amzDateLayout) != date || !slices.Contains(c.SignedHeaders, "x-amz-date") {
		return c, "", signedAt, awswire.Errorf(http.StatusBadRequest, "IncompleteSignatureException", "A signed X-Amz-Date header in the form yyyyMMddTHHmmssZ is required.")
	}
	if c.Date != date[:8] {
		return c, "", signedAt, forbidden("InvalidSignatureException", "Credential date %s does not match X-Amz-Date %s.", c.Date, date)
	}
	t := now().UTC()
	if skew := t.Sub(signedAt); skew > MaxSkew {
		return c, "", signedAt, forbidden("InvalidSignatureException", "Signature expired: %s is now earlier than %s (%s - 5 min.)",
			date, t.Add(-MaxSkew).Format(amzDateLayout), t.Format(amzDateLayout))
	} else if skew < -MaxSkew {
		return c, "", signedAt, forbidden("InvalidSignatureException", "Signature not yet current: %s is still later than %s (%s + 5 min.)",
			date, t.Add(MaxSkew).Format(amzDateLayout), t.Format(amzDateLayout))
	}
	return c, secret, signedAt, nil
}

func (v *Verifier) verifyBody(r *http.Request, body []byte, c Credential, secret string, signedAt time.Time) error {
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if slices.Contains(c.SignedHeaders, "x-amz-content-sha256") {
		if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != payloadHash {
			return awswire.Errorf(http.StatusBadRequest, "InvalidSignatureException", "The provided x-amz-content-sha256 header does not match the request body.")
		}
	}

	ok, err := v.matches(r, body, payloadHash, c, secret, signedAt, func(v string) string { return v })
	if err == nil && !ok && tabbed(r, c.SignedHeaders) {
		// Signers differ on whitespace inside a header value: Go's
		// collapses runs of spaces only, botocore and the JS SDK every
		// run of whitespace (a tab included) into one space.
		ok, err = v.matches(r, body, payloadHash, c, secret, signedAt, func(v string) string {
			return strings.Join(strings.Fields(v), " ")
		})
	}
	if err != nil {
		return err
	}
	if !ok {
		return forbidden("InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// matches re-signs r from exactly its signed headers, each value passed
// through value first, and compares the signature with the client's.
func (v *Verifier) matches(r *http.Request, body []byte, payloadHash string, c Credential, secret string, signedAt time.Time,
	value func(string) string) (bool, error) {
	clone, err := http.NewRequest(r.Method, r.URL.String(), nil)
	if err != nil {
		return false, forbidden("InvalidSignatureException", "The request URL cannot be verified.")
	}
	clone.URL = r.URL
	clone.Host = r.Host
	for _, name := range c.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			clone.ContentLength, _ = strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if clone.ContentLength == 0 {
				clone.ContentLength = int64(len(body))
			}
		default:
			// Copies: the signer rewrites X-Amz-Date in place, which must
			// not change r.
			k := http.CanonicalHeaderKey(name)
			for _, v := range r.Header.Values(name) {
				clone.Header[k] = append(clone.Header[k], value(v))
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, payloadHash, c.Service, c.Region, signedAt); err != nil {
		return false, forbidden("InvalidSignatureException", "The request signature could not be computed.")
	}
	want, err := ParseAuthorization(clone.Header.Get("Authorization"))
	return err == nil && slices.Equal(want.SignedHeaders, c.SignedHeaders) &&
		hmac.Equal([]byte(want.Signature), []byte(c.Signature)), nil
}

// tabbed reports whether a signed header's value holds whitespace other
// than spaces, which signers canonicalise differently.
func tabbed(r *http.Request, signed []string) bool {
	for _, name := range signed {
		for _, v := range r.Header.Values(name) {
			if strings.ContainsAny(v, "\t\v\f") {
				return true
			}
		}
	}
	return false
}
