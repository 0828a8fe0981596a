package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// FuzzVerifySigned: a request an SDK signs (aws-sdk-go-v2's signer, over
// any path, query, header value and body) verifies as the server reads it
// off the wire, and the same request with a changed body, path or signed
// header does not.
func FuzzVerifySigned(f *testing.F) {
	f.Add("/contact/chat/i1", "", "application/json", []byte(`{"InstanceId":"i"}`), false)
	f.Add("/contact/stop/a%2Fb", "x=1&y=%20&x=0", "text/plain; charset=utf-8", []byte{}, true)
	f.Add("/participant/message/é", "a=b=c&&d", " spaced  value ", []byte("\x00\xff"), true)
	f.Add("/a/../b/./c//d", "k=%zz", "v", []byte("x"), false)
	now := time.Now()
	f.Fuzz(func(t *testing.T, path, query, value string, body []byte, signHash bool) {
		u, err := url.Parse("http://127.0.0.1:8080" + path)
		if err != nil || u.Host != "127.0.0.1:8080" || u.Path == "" || u.Path[0] != '/' {
			return
		}
		u.RawQuery = query
		client, err := http.NewRequest("POST", u.String(), bytes.NewReader(body))
		if err != nil {
			return
		}
		client.Header.Set("X-Parley-Test", value)
		sum := hash(string(body))
		if signHash {
			client.Header.Set("X-Amz-Content-Sha256", sum)
		}
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s3cret"},
			client, sum, "connect", "eu-west-2", now); err != nil {
			return // the client could not sign it either
		}
		var wire bytes.Buffer
		if err := client.Write(&wire); err != nil {
			return // net/http would not send it
		}
		read := func(b []byte) *http.Request {
			r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
			if err != nil {
				return nil
			}
			return r
		}
		server := read(wire.Bytes())
		if server == nil {
			return // net/http would not serve it
		}
		if server.Header.Get("X-Parley-Test") != client.Header.Get("X-Parley-Test") {
			return // the header's text does not survive the wire: nothing to sign
		}
		if err := verifier.Verify(server, body); err != nil {
			t.Fatalf("a signed request to %q?%q (X-Parley-Test %q) does not verify: %v\n%s", path, query, value, err, wire.Bytes())
		}
		if err := verifier.Verify(server, append(bytes.Clone(body), 'x')); err == nil {
			t.Fatalf("a changed body verifies")
		}
		changed := read(bytes.Replace(wire.Bytes(), []byte("X-Parley-Test: "), []byte("X-Parley-Test: x"), 1))
		if changed != nil {
			if err := verifier.Verify(changed, body); err == nil {
				t.Fatalf("a changed signed header verifies")
			}
		}
		other := server.Clone(context.Background())
		other.URL = &url.URL{Path: server.URL.Path + "x", RawQuery: server.URL.RawQuery}
		if err := verifier.Verify(other, body); err == nil {
			t.Fatalf("a changed path verifies")
		}
	})
}
