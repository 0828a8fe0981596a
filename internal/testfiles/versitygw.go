package testfiles

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Server is a local S3 server (versitygw on its posix backend) for tests.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the posix root: one folder per bucket
}

// VersitygwBinary returns the path of versitygw, or "" when it is not
// installed. .ci/run installs it into /var/cache/parley-tools/bin.
func VersitygwBinary() string {
	if p := os.Getenv("PARLEY_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	for _, p := range []string{"/var/cache/parley-tools/bin/versitygw", filepath.Join(os.Getenv("HOME"), "go/bin/versitygw")} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Versitygw starts versitygw for a test, with one empty bucket per call of
// S3Server.NewBucket. Without versitygw the test is skipped, saying so,
// unless CI is set: there that is a failure, since .ci/run installs it.
func Versitygw(t testing.TB) *S3Server {
	t.Helper()
	bin := VersitygwBinary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("versitygw is not installed (.ci/run installs it)")
		}
		t.Skip("versitygw is not installed: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := &S3Server{Endpoint: "http://" + addr, AccessKey: "parleytest", SecretKey: "parleytestsecret", Region: "us-east-1", Dir: root}
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", srv.AccessKey, "--secret", srv.SecretKey, "--port", addr, "--quiet", "posix", root)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(srv.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return srv
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("versitygw did not answer within 20s: %v; its log:\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// AWS is an SDK configuration for the server.
func (s *S3Server) AWS() aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		BaseEndpoint: aws.String(s.Endpoint),
		HTTPClient:   &http.Client{Timeout: time.Minute},
	}
}

// Client is an S3 client for the server, path-style.
func (s *S3Server) Client() *s3.Client {
	return s3.NewFromConfig(s.AWS(), func(o *s3.Options) { o.UsePathStyle = true })
}

var bucketSeq int

// NewBucket creates an empty bucket and returns its name.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	bucketSeq++
	name := fmt.Sprintf("parley-%d-%d", os.Getpid(), bucketSeq)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// Setenv sets Env in the process for the test's length, for servers the
// test starts in it.
func (s *S3Server) Setenv(t testing.TB) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Env is the standard AWS SDK environment that points a Parley process at
// the server.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint, "AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
}
