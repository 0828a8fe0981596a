package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/parleychat/parley/internal/secret"
)

// Presigned is a URL a client uses directly against S3, and the headers it
// must send with it (signed into the URL).
type Presigned struct {
	URL     string
	Headers map[string]string
}

// PresignPut returns a URL that writes the blob once: the signature covers
// the exact length and content type and If-None-Match: *, so S3 itself
// refuses a longer body, another type, or a second write of the key.
func (s *S3) PresignPut(ctx context.Context, key string, size int64, contentType string, ttl time.Duration) (Presigned, error) {
	k, err := s.Key(key)
	if err != nil {
		return Presigned{}, err
	}
	req, err := s3.NewPresignClient(s.client).PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &k, ContentLength: aws.Int64(size), ContentType: &contentType, IfNoneMatch: aws.String("*"),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return Presigned{}, err
	}
	h := map[string]string{}
	for name, v := range req.SignedHeader {
		if name != "Host" && len(v) > 0 {
			h[name] = v[0]
		}
	}
	return Presigned{URL: req.URL, Headers: h}, nil
}

// PresignGet returns a URL that reads the blob, with S3 told to answer with
// the given Content-Disposition and Content-Type.
func (s *S3) PresignGet(ctx context.Context, key, disposition, contentType string, ttl time.Duration) (string, error) {
	k, err := s.Key(key)
	if err != nil {
		return "", err
	}
	req, err := s3.NewPresignClient(s.client).PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.bucket, Key: &k, ResponseContentDisposition: &disposition, ResponseContentType: &contentType,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// Stat returns a committed blob's size and content type, as S3 stored them.
func (s *S3) Stat(ctx context.Context, key string) (size int64, contentType string, err error) {
	k, err := s.Key(key)
	if err != nil {
		return 0, "", ErrNotFound
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &k})
	if isNotFound(err) {
		return 0, "", ErrNotFound
	}
	if err != nil {
		return 0, "", err
	}
	return aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType), nil
}

// CheckDirect checks that the bucket does what direct mode relies on: a
// presigned PUT refuses a second write of its key (conditional writes), and
// a presigned GET answers with the overridden Content-Disposition. It
// writes and deletes one small object.
func (s *S3) CheckDirect(ctx context.Context, client *http.Client) error {
	key := "parley-check-" + secret.NewUUID()
	body := []byte("parley start-up check")
	defer s.Delete(context.WithoutCancel(ctx), key)
	put, err := s.PresignPut(ctx, key, int64(len(body)), "text/plain", time.Minute)
	if err != nil {
		return fmt.Errorf("presigning a PUT: %w", err)
	}
	do := func(method, url string, h map[string]string, b []byte) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	resp, err := do("PUT", put.URL, put.Headers, body)
	if err != nil {
		return fmt.Errorf("a presigned PUT: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("a presigned PUT answered %s", resp.Status)
	}
	resp, err = do("PUT", put.URL, put.Headers, body)
	if err != nil {
		return fmt.Errorf("a second presigned PUT: %w", err)
	}
	if resp.StatusCode != http.StatusPreconditionFailed && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("conditional writes: a second PUT of one key answered %s, not 412 Precondition Failed", resp.Status)
	}
	const disp = `attachment; filename="check.txt"`
	get, err := s.PresignGet(ctx, key, disp, "text/plain", time.Minute)
	if err != nil {
		return fmt.Errorf("presigning a GET: %w", err)
	}
	resp, err = do("GET", get, nil, nil)
	if err != nil {
		return fmt.Errorf("a presigned GET: %w", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != disp {
		return errors.New("response overrides: a presigned GET did not answer with the Content-Disposition it was signed with")
	}
	return nil
}
