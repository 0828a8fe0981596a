package blob_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/testfiles"
)

// TestS3Presigned checks what direct mode relies on, against a real S3
// server: the PUT's signature covers length, type and If-None-Match (SDK
// versions have dropped these from signatures before), so S3 itself refuses
// a longer body, another type and a replay; a GET's overrides are honoured
// and cannot be changed.
func TestS3Presigned(t *testing.T) {
	srv := testfiles.Versitygw(t)
	ctx := context.Background()
	s, err := blob.OpenS3(ctx, blob.S3Config{Bucket: srv.NewBucket(t), PathStyle: true, AWS: srv.AWS()})
	if err != nil {
		t.Fatal(err)
	}
	key := secret.NewUUID()
	body := "hello, presigned"
	p, err := s.PresignPut(ctx, key, int64(len(body)), "text/plain", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(p.URL)
	if got := u.Query().Get("X-Amz-SignedHeaders"); got != "content-length;content-type;host;if-none-match" {
		t.Fatalf("X-Amz-SignedHeaders = %q, want content-length;content-type;host;if-none-match", got)
	}
	if p.Headers["Content-Type"] != "text/plain" || p.Headers["If-None-Match"] != "*" {
		t.Errorf("headers to include: %v", p.Headers)
	}
	put := func(h map[string]string, b string) int {
		req, _ := http.NewRequest("PUT", p.URL, strings.NewReader(b))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range p.Headers {
			h[a] = b
		}
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	for _, tc := range []struct {
		name string
		h    map[string]string
		body string
		want int
	}{
		{"a longer body", p.Headers, body + "!", http.StatusForbidden},
		{"another type", with("Content-Type", "text/html"), body, http.StatusForbidden},
		{"no If-None-Match", with("If-None-Match", ""), body, http.StatusForbidden},
		{"as signed", p.Headers, body, http.StatusOK},
		{"a replay", p.Headers, body, http.StatusPreconditionFailed},
	} {
		if got := put(tc.h, tc.body); got != tc.want {
			t.Errorf("PUT with %s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if size, typ, err := s.Stat(ctx, key); err != nil || size != int64(len(body)) || typ != "text/plain" {
		t.Errorf("Stat = %d, %q, %v", size, typ, err)
	}

	const disp = `attachment; filename="a.txt"; filename*=UTF-8''a.txt`
	get, err := s.PresignGet(ctx, key, disp, "text/plain; charset=utf-8", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(get)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != body || resp.Header.Get("Content-Disposition") != disp || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("presigned GET: %d %q, disposition %q, type %q", resp.StatusCode, b, resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Type"))
	}
	tampered := strings.Replace(get, "a.txt", "b.txt", 1)
	if resp, err := http.Get(tampered); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a GET with a changed override: %v %v, want 403", resp.StatusCode, err)
	}
	if err := s.CheckDirect(ctx, http.DefaultClient); err != nil {
		t.Errorf("CheckDirect on versitygw: %v", err)
	}
}
