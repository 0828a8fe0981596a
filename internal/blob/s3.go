package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// PartSize is the size of each part of a multipart upload: S3's minimum, so
// that an upload in flight holds at most this much in memory.
const PartSize = 5 << 20

// S3Config is where S3 blobs live. The endpoint, region and credentials are
// the AWS SDK's (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID, ...).
type S3Config struct {
	Bucket    string
	Prefix    string // put before every key, e.g. "parley/"
	PathStyle bool   // bucket in the path, not the host name (most self-hosted S3)
	AWS       aws.Config
}

// S3 stores blobs in an S3-compatible bucket. Bytes stream through in parts
// of PartSize; an object becomes visible only when its upload completes, so
// a half-written blob is never seen.
type S3 struct {
	client *s3.Client
	bucket string
	prefix string
}

// OpenS3 connects to the bucket and checks that it exists.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blob: no S3 bucket")
	}
	client := s3.NewFromConfig(cfg.AWS, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		// S3-compatible servers differ in which checksum headers they take;
		// send them only where the API requires one.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return nil, fmt.Errorf("S3 bucket %q: %w", cfg.Bucket, err)
	}
	return s, nil
}

// Client is the S3 client, for presigning and start-up checks.
func (s *S3) Client() *s3.Client { return s.client }

// Bucket is the bucket's name.
func (s *S3) Bucket() string { return s.bucket }

// Key is the object key of a blob key.
func (s *S3) Key(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", errors.New("blob: invalid key")
	}
	return s.prefix + key, nil
}

// Close releases nothing: the client holds only idle connections.
func (s *S3) Close() error { return nil }

func (s *S3) Create(ctx context.Context, key string) (Writer, error) {
	k, err := s.Key(key)
	if err != nil {
		return nil, err
	}
	return &s3Writer{s: s, ctx: ctx, key: k}, nil
}

func (s *S3) Open(ctx context.Context, key string) (File, error) {
	k, err := s.Key(key)
	if err != nil {
		return nil, ErrNotFound
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &k})
	if isNotFound(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &s3File{s: s, ctx: ctx, key: k, size: aws.ToInt64(head.ContentLength), mod: aws.ToTime(head.LastModified), etag: aws.ToString(head.ETag)}, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	k, err := s.Key(key)
	if err != nil {
		return nil
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &k})
	if isNotFound(err) {
		return nil
	}
	return err
}

// isNotFound recognises a missing object or key by status and code, never
// by message text.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey":
			return true
		}
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nk)
}

// s3Writer streams a blob into S3: in one PutObject when it fits in a part,
// otherwise as a multipart upload whose parts go up as they fill.
type s3Writer struct {
	s        *S3
	ctx      context.Context
	key      string
	buf      []byte
	uploadID *string
	parts    []types.CompletedPart
	err      error
	done     bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errors.New("blob: write after commit")
	}
	n := len(p)
	for len(p) > 0 {
		k := min(PartSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == PartSize {
			if err := w.uploadPart(); err != nil {
				w.err = err
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (w *s3Writer) uploadPart() error {
	if w.uploadID == nil {
		out, err := w.s.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.key})
		if err != nil {
			return err
		}
		w.uploadID = out.UploadId
	}
	num := int32(len(w.parts) + 1)
	out, err := w.s.client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID, PartNumber: &num,
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return err
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	w.buf = w.buf[:0]
	return nil
}

func (w *s3Writer) Commit() error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if w.done {
		return errors.New("blob: committed twice")
	}
	var err error
	if w.uploadID == nil {
		_, err = w.s.client.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket: &w.s.bucket, Key: &w.key,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		})
	} else {
		if len(w.buf) > 0 {
			err = w.uploadPart()
		}
		if err == nil {
			_, err = w.s.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
				Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
			})
		}
	}
	if err != nil {
		w.Abort()
		return err
	}
	w.done, w.buf = true, nil
	return nil
}

func (w *s3Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done, w.buf = true, nil
	if w.uploadID == nil {
		return nil
	}
	// The parts are discarded even when the request that wrote them was
	// cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 30*time.Second)
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID})
	return err
}

// s3File reads an object: sequential reads share one ranged GET, and a seek
// or ReadAt starts another. The ETag pins every read to the version opened.
type s3File struct {
	s    *S3
	ctx  context.Context
	key  string
	size int64
	mod  time.Time
	etag string

	off     int64
	body    io.ReadCloser
	bodyOff int64
}

func (f *s3File) Size() int64        { return f.size }
func (f *s3File) ModTime() time.Time { return f.mod }

func (f *s3File) get(from, to int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", from)
	if to >= 0 {
		rng += fmt.Sprint(to)
	}
	out, err := f.s.client.GetObject(f.ctx, &s3.GetObjectInput{Bucket: &f.s.bucket, Key: &f.key, Range: &rng, IfMatch: nonEmpty(f.etag)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (f *s3File) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	if f.body == nil || f.bodyOff != f.off {
		f.closeBody()
		b, err := f.get(f.off, -1)
		if err != nil {
			return 0, err
		}
		f.body, f.bodyOff = b, f.off
	}
	n, err := f.body.Read(p)
	f.off += int64(n)
	f.bodyOff += int64(n)
	if err == io.EOF && f.off < f.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (f *s3File) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	default:
		return 0, errors.New("blob: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("blob: negative offset")
	}
	f.off = offset // the next Read opens a new range if it must
	return offset, nil
}

func (f *s3File) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), f.size-off)
	if want == 0 {
		return 0, nil
	}
	b, err := f.get(off, off+want-1)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	n, err := io.ReadFull(b, p[:want])
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

func (f *s3File) closeBody() {
	if f.body != nil {
		f.body.Close()
		f.body = nil
	}
}

func (f *s3File) Close() error {
	f.closeBody()
	return nil
}

// ParseS3Prefix normalises a prefix to end in one slash ("" stays "").
func ParseS3Prefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}
