package audit

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// fuzzArchive writes an export of one contact whose attachments.json is
// atts and whose attachment entry a1 holds data, with a true manifest.
func fuzzArchive(t testing.TB, atts, data []byte) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	m := &Manifest{Format: Format, Contacts: []string{"c1"}, Entries: map[string]string{}}
	for _, e := range []struct {
		name string
		body []byte
	}{
		{"contacts/c1/contact.json", []byte(`{"ContactId":"c1"}`)},
		{"contacts/c1/transcript.json", []byte(`{"Transcript":[]}`)},
		{"contacts/c1/attachments.json", atts},
		{"contacts/c1/attachments/a1", data},
	} {
		if err := m.copy(z, e.name, bytes.NewReader(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.json(z, "manifest.json", m); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// FuzzVerifyExport: `parley verify-export` reads a file the user hands
// it. Whatever the file, Verify answers; what it passes has every entry
// listed in the manifest with its digest, and every attachment it counts
// has the bytes its upload hash names.
func FuzzVerifyExport(f *testing.F) {
	bytesA1 := []byte("%PDF-1.4 invoice")
	good, _ := json.Marshal([]Attachment{{AttachmentId: "a1", SHA256: sum(bytesA1), Entry: "contacts/c1/attachments/a1"}})
	f.Add(fuzzArchive(f, good, bytesA1))
	f.Add(fuzzArchive(f, []byte(`[{"AttachmentId":"a1","SHA256":"00","Entry":"contacts/c1/attachments/a1"}]`), bytesA1))
	f.Add(fuzzArchive(f, []byte(`[{"AttachmentId":"a1","Entry":"manifest.json"}]`), nil))
	f.Add(fuzzArchive(f, []byte(`null`), nil))
	f.Add(fuzzArchive(f, []byte(`[] trailing`), nil))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, archive []byte) {
		rep, err := Verify(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			return
		}
		z, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			t.Fatalf("verified an archive zip cannot open: %v", err)
		}
		var m Manifest
		contents := map[string][]byte{}
		for _, f := range z.File {
			r, err := f.Open()
			if err != nil {
				t.Fatalf("verified, but %s does not open: %v", f.Name, err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("verified, but %s does not read: %v", f.Name, err)
			}
			contents[f.Name] = b
		}
		if json.Unmarshal(contents["manifest.json"], &m) != nil && json.NewDecoder(bytes.NewReader(contents["manifest.json"])).Decode(&m) != nil {
			t.Fatal("verified without a manifest")
		}
		if len(contents) != len(m.Entries)+1 || rep.Entries != len(m.Entries) || rep.Contacts != len(m.Contacts) {
			t.Fatalf("report %+v of %d entries, manifest %+v", rep, len(contents), m)
		}
		for name, want := range m.Entries {
			if b, ok := contents[name]; !ok || sum(b) != want {
				t.Fatalf("verified, but %s is missing or does not match its digest", name)
			}
		}
	})
}

// FuzzVerifyAttachments: whatever attachments.json says (a hand-edited
// or damaged archive whose manifest was made to match), an attachment
// whose bytes differ from its upload hash is never passed.
func FuzzVerifyAttachments(f *testing.F) {
	data := []byte("%PDF-1.4 invoice")
	good, _ := json.Marshal([]Attachment{{AttachmentId: "a1", SHA256: sum(data), Entry: "contacts/c1/attachments/a1"}})
	f.Add(good, data)
	f.Add([]byte(`[{"AttachmentId":"a1","SHA256":"00","Entry":"contacts/c1/attachments/a1"}]`), data)
	f.Add([]byte(`[{"AttachmentId":"a1","Entry":"contacts/c1/attachments/a1"},{"AttachmentId":"a2","Entry":"contacts/c1/attachments/a2"}]`), data)
	f.Add([]byte(`[{"Entry":""}]`), []byte{})
	f.Add([]byte(`{"AttachmentId":"a1"}`), data)
	f.Fuzz(func(t *testing.T, atts, data []byte) {
		archive := fuzzArchive(t, atts, data)
		rep, err := Verify(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			return
		}
		var list []Attachment
		if err := json.NewDecoder(bytes.NewReader(atts)).Decode(&list); err != nil {
			t.Fatalf("verified with attachments.json %q: %v", atts, err)
		}
		counted := 0
		for _, a := range list {
			if a.Entry == "" {
				continue
			}
			if a.Entry != "contacts/c1/attachments/a1" && a.Entry != "contacts/c1/contact.json" && a.Entry != "contacts/c1/transcript.json" &&
				a.Entry != "contacts/c1/attachments.json" && a.Entry != "manifest.json" {
				t.Fatalf("verified %+v, whose entry is not in the archive", a)
			}
			if a.Entry == "contacts/c1/attachments/a1" && a.SHA256 != "" && a.SHA256 != sum(data) {
				t.Fatalf("verified %+v, whose bytes hash to %s", a, sum(data))
			}
			counted++
		}
		if rep.Attachments != counted {
			t.Fatalf("report %+v, %d attachments with bytes", rep, counted)
		}
	})
}
