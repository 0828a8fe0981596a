package blob_test

import (
	"context"
	"testing"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/blob/blobtest"
	"github.com/parleychat/parley/internal/testfiles"
)

func TestLocalConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		l, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestS3Conformance(t *testing.T) {
	srv := testfiles.Versitygw(t)
	for _, prefix := range []string{"", "parley/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) blob.Store {
				s, err := blob.OpenS3(context.Background(), blob.S3Config{
					Bucket: srv.NewBucket(t), Prefix: prefix, PathStyle: true, AWS: srv.AWS(),
				})
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	srv := testfiles.Versitygw(t)
	if _, err := blob.OpenS3(context.Background(), blob.S3Config{Bucket: "no-such-bucket", PathStyle: true, AWS: srv.AWS()}); err == nil {
		t.Fatal("OpenS3 accepted a bucket that does not exist")
	}
}
