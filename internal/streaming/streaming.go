// Package streaming delivers chat items to HTTPS endpoints as Amazon SNS
// delivers to HTTP subscribers: a POST of a JSON Notification, signed as
// SNS signs (SignatureVersion 2: RSA with SHA-256 over SNS's canonical
// string), with a signing certificate Parley serves. Parley stands in for
// the SNS topic that StartContactStreaming names: configuration maps each
// topic ARN to the endpoint its subscriber would have.
package streaming

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/atomicfile"
)

// CertPath is where Parley serves the certificate that verifies its
// notifications' signatures.
const CertPath = "/streaming/v1/signing-cert.pem"

// Signer signs notifications with an RSA key kept in the data dir.
type Signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
	certURL string
}

// LoadSigner reads the signing key at path, making it the first time, and
// makes the certificate served at baseURL+CertPath.
func LoadSigner(path, baseURL string) (*Signer, error) {
	var key *rsa.PrivateKey
	b, err := os.ReadFile(path)
	switch {
	// An empty file is what a crash while an earlier version wrote the key
	// left: no key anyone used.
	case errors.Is(err, os.ErrNotExist), err == nil && len(b) == 0:
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
		der := x509.MarshalPKCS1PrivateKey(key)
		if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM key", path)
		}
		if key, err = x509.ParsePKCS1PrivateKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "Parley message streaming"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		certURL: strings.TrimSuffix(baseURL, "/") + CertPath}, nil
}

// ServeCert serves the signing certificate.
func (s *Signer) ServeCert(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(s.certPEM)
}

// Attribute is an SNS message attribute.
type Attribute struct {
	Type  string
	Value string
}

// Notification is the body SNS posts to an HTTP subscriber.
type Notification struct {
	Type              string
	MessageId         string
	TopicArn          string
	Subject           string `json:",omitempty"`
	Message           string
	Timestamp         string
	SignatureVersion  string
	Signature         string
	SigningCertURL    string
	UnsubscribeURL    string
	MessageAttributes map[string]Attribute `json:",omitempty"`
}

// stringToSign is SNS's canonical form of a Notification: the names and
// values of Message, MessageId, Subject (if any), Timestamp, TopicArn and
// Type, each followed by a newline.
func stringToSign(n *Notification) []byte {
	var b bytes.Buffer
	field := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	field("Message", n.Message)
	field("MessageId", n.MessageId)
	if n.Subject != "" {
		field("Subject", n.Subject)
	}
	field("Timestamp", n.Timestamp)
	field("TopicArn", n.TopicArn)
	field("Type", n.Type)
	return b.Bytes()
}

// Sign fills in the signature fields.
func (s *Signer) Sign(n *Notification) error {
	n.SignatureVersion, n.SigningCertURL = "2", s.certURL
	sum := sha256.Sum256(stringToSign(n))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	n.Signature = base64.StdEncoding.EncodeToString(sig)
	return err
}

// Verify checks a notification's signature against a PEM certificate, as a
// receiver does after fetching SigningCertURL (from a host it trusts).
func Verify(n *Notification, certPEM []byte) error {
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		return errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || n.SignatureVersion != "2" {
		return errors.New("not an RSA SignatureVersion 2 signature")
	}
	sig, err := base64.StdEncoding.DecodeString(n.Signature)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(stringToSign(n))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}

// Sender posts notifications to the endpoints topics map to.
type Sender struct {
	Endpoints map[string]string // topic ARN → HTTPS URL
	Signer    *Signer
	Client    *http.Client
}

// Configured reports whether a topic ARN has an endpoint.
func (s *Sender) Configured(arn string) bool {
	if s == nil {
		return false
	}
	_, ok := s.Endpoints[arn]
	return ok
}

// Send posts one signed notification; any answer but 2xx is a failure.
func (s *Sender) Send(ctx context.Context, arn, id, message string, attrs map[string]string, at time.Time) error {
	url, ok := s.Endpoints[arn]
	if !ok {
		return fmt.Errorf("no endpoint configured for %s", arn)
	}
	n := &Notification{Type: "Notification", MessageId: id, TopicArn: arn, Message: message,
		Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"), UnsubscribeURL: "",
		MessageAttributes: map[string]Attribute{}}
	for k, v := range attrs {
		n.MessageAttributes[k] = Attribute{Type: "String", Value: v}
	}
	if err := s.Signer.Sign(n); err != nil {
		return err
	}
	body, _ := json.Marshal(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("x-amz-sns-message-type", "Notification")
	req.Header.Set("x-amz-sns-message-id", id)
	req.Header.Set("x-amz-sns-topic-arn", arn)
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// ParseEndpoints reads PARLEY_STREAMING_ENDPOINTS: comma-separated
// ARN=URL pairs, each ARN an SNS topic's and each URL http(s).
func ParseEndpoints(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		arn, url, ok := strings.Cut(pair, "=")
		if !ok || !IsTopicARN(arn) || !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) {
			return nil, fmt.Errorf("%q is not arn:aws:sns:REGION:ACCOUNT:TOPIC=https://…", pair)
		}
		out[arn] = url
	}
	return out, nil
}

// IsTopicARN reports whether s looks like an SNS topic ARN.
func IsTopicARN(s string) bool {
	p := strings.Split(s, ":")
	return len(p) == 6 && p[0] == "arn" && strings.HasPrefix(p[1], "aws") && p[2] == "sns" && p[3] != "" && p[4] != "" && p[5] != ""
}
