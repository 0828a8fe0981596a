package audit

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/store"
)

type oneContact struct{}

func (oneContact) Record(_ context.Context, id string) (chat.Record, error) {
	return chat.Record{Contact: store.Contact{ID: id, InstanceID: "i", InitialContactID: id}}, nil
}

func (oneContact) OpenFileBytes(context.Context, store.File) (blob.File, error) {
	return nil, blob.ErrNotFound
}

// TestEntriesAreDated: every entry carries the archive's time. Unset, zip
// writes a DOS date of zero, which unzip tools show as 1980-00-00.
func TestEntriesAreDated(t *testing.T) {
	var buf bytes.Buffer
	before := time.Now().Add(-2 * time.Second) // DOS times have 2 s steps
	if _, err := Write(context.Background(), &buf, oneContact{}, []string{"c1"}); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(z.File) < 2 {
		t.Fatalf("%d entries, want the contact's and the manifest", len(z.File))
	}
	for _, f := range z.File {
		if f.Modified.Before(before) || f.Modified.After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s is dated %v, want about now", f.Name, f.Modified)
		}
	}
}
