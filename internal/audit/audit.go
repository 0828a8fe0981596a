// Package audit writes the archive an auditor gets of one or more contacts,
// and verifies one.
//
// The archive is a zip. Per contact, under contacts/ID/: contact.json (the
// contact, its attributes, timestamps and participants), transcript.json (the
// whole transcript in the Participant API's Item shape, as GetTranscript
// returns it), attachments.json (every file with its state, verdict and the
// SHA-256 Parley computed on upload) and attachments/ATTACHMENT_ID (the
// bytes of each file that has any). A persistent chat brings the chain of
// chats it continues, each in its own folder, older ones first. manifest.json, the last entry, lists
// every other entry with its SHA-256, so a verifier can recompute them all.
// Entry names are ids Parley generated, never a user's file name.
package audit

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chatwire"
	"github.com/parleychat/parley/internal/store"
)

// Format names the archive's layout.
const Format = "parley-export/1"

// Source is what an export reads: the chat domain.
type Source interface {
	Record(ctx context.Context, contactID string) (chat.Record, error)
	OpenFileBytes(ctx context.Context, f store.File) (blob.File, error)
}

// Manifest is the archive's table of contents.
type Manifest struct {
	Format    string            `json:"format"`
	CreatedAt string            `json:"createdAt"`
	Contacts  []string          `json:"contacts"`
	Entries   map[string]string `json:"entries"` // name → SHA-256, hex
	at        time.Time         // CreatedAt, the entries' modification time
}

// Contact is contact.json.
type Contact struct {
	ContactId        string
	InitialContactId string `json:",omitempty"`
	InstanceId       string
	State            string
	CreatedAt        string
	ConnectedAt      string `json:",omitempty"`
	EndedAt          string `json:",omitempty"`
	DisconnectReason string `json:",omitempty"`
	RelatedContactId string `json:",omitempty"`
	// ContinuedFromContactId and Chain: the persistent chat this contact
	// continues, and the whole chain it carries, oldest first; each of them
	// is in the archive too.
	ContinuedFromContactId string            `json:",omitempty"`
	Chain                  []string          `json:",omitempty"`
	Attributes             map[string]string `json:",omitempty"`
	CustomerAttributes     map[string]string `json:",omitempty"` // supplied by the customer's browser, unverified
	// CustomerId and SegmentAttributes: as StartChatContact gave them.
	CustomerId        string                                 `json:",omitempty"`
	SegmentAttributes map[string]store.SegmentAttributeValue `json:",omitempty"`
	Participants      []Participant
}

// Participant is one entry of contact.json's Participants.
type Participant struct {
	ParticipantId string
	Role          string
	DisplayName   string
	State         string
	JoinedAt      string
	LeftAt        string `json:",omitempty"`
}

// Transcript is transcript.json: GetTranscript's answer, whole.
type Transcript struct {
	InitialContactId string `json:",omitempty"`
	Transcript       []chatwire.Item
}

// Attachment is one entry of attachments.json.
type Attachment struct {
	AttachmentId   string
	AttachmentName string
	ContentType    string
	Size           int64
	State          string // APPROVED, REJECTED, DELETED, ...
	Reason         string `json:",omitempty"` // why it was rejected
	SHA256         string `json:",omitempty"` // computed by Parley as the upload arrived
	ParticipantId  string
	CreatedAt      string
	Entry          string `json:",omitempty"` // where the bytes are in the archive; none once deleted
}

// Write writes the archive of the contacts to w.
func Write(ctx context.Context, w io.Writer, src Source, contactIDs []string) (*Manifest, error) {
	z := zip.NewWriter(w)
	now := time.Now()
	m := &Manifest{Format: Format, CreatedAt: awswire.FormatTime(now), Entries: map[string]string{}, at: now}
	// A contact's persistent-chat chain comes with it, each contact once,
	// the older before the newer.
	written := map[string]bool{}
	var add func(id string, r *chat.Record) error
	add = func(id string, r *chat.Record) error {
		if written[id] {
			return nil
		}
		if r == nil {
			rec, err := src.Record(ctx, id)
			if err != nil {
				return fmt.Errorf("contact %s: %w", id, err)
			}
			r = &rec
		}
		for _, older := range r.Chain {
			if err := add(older, nil); err != nil {
				return err
			}
		}
		written[id] = true
		m.Contacts = append(m.Contacts, id)
		if err := writeContact(ctx, z, m, src, *r); err != nil {
			return fmt.Errorf("contact %s: %w", id, err)
		}
		return nil
	}
	for _, id := range contactIDs {
		if err := add(id, nil); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	f, err := m.create(z, "manifest.json")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		return nil, err
	}
	return m, z.Close()
}

func writeContact(ctx context.Context, z *zip.Writer, m *Manifest, src Source, r chat.Record) error {
	dir := "contacts/" + r.Contact.ID + "/"
	c := Contact{
		ContactId: r.Contact.ID, InstanceId: r.Contact.InstanceID, State: r.Contact.State,
		CreatedAt: stamp(r.Contact.CreatedAt), ConnectedAt: stamp(r.Contact.ConnectedAt), EndedAt: stamp(r.Contact.EndedAt),
		DisconnectReason: r.Contact.DisconnectReason, Attributes: r.Contact.Attributes, CustomerAttributes: r.Contact.CustomerAttributes,
		RelatedContactId: r.Contact.RelatedContactID, ContinuedFromContactId: r.Contact.ContinuedFromID, Chain: r.Chain,
		CustomerId: r.Contact.CustomerID, SegmentAttributes: r.Contact.SegmentAttributes,
	}
	if r.Contact.InitialContactID != r.Contact.ID {
		c.InitialContactId = r.Contact.InitialContactID
	}
	for _, p := range r.Participants {
		c.Participants = append(c.Participants, Participant{ParticipantId: p.ID, Role: p.Role, DisplayName: p.DisplayName,
			State: p.State, JoinedAt: stamp(p.JoinedAt), LeftAt: stamp(p.LeftAt)})
	}
	if err := m.json(z, dir+"contact.json", c); err != nil {
		return err
	}
	t := Transcript{InitialContactId: c.InitialContactId, Transcript: []chatwire.Item{}}
	for _, it := range r.Items {
		t.Transcript = append(t.Transcript, chatwire.FromStore(it))
	}
	if err := m.json(z, dir+"transcript.json", t); err != nil {
		return err
	}
	atts := []Attachment{}
	for _, f := range r.Files {
		a := Attachment{AttachmentId: f.ID, AttachmentName: f.Name, ContentType: f.ContentType, Size: f.Size, State: f.State,
			Reason: f.Reason, SHA256: f.SHA256, ParticipantId: f.ParticipantID, CreatedAt: stamp(f.CreatedAt)}
		b, err := src.OpenFileBytes(ctx, f)
		switch {
		case errors.Is(err, blob.ErrNotFound):
		case err != nil:
			return fmt.Errorf("attachment %s: %w", f.ID, err)
		default:
			a.Entry = dir + "attachments/" + f.ID
			err := m.copy(z, a.Entry, b)
			b.Close()
			if err != nil {
				return fmt.Errorf("attachment %s: %w", f.ID, err)
			}
		}
		atts = append(atts, a)
	}
	return m.json(z, dir+"attachments.json", atts)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return awswire.FormatTime(t)
}

func (m *Manifest) json(z *zip.Writer, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return m.copy(z, name, strings.NewReader(string(b)+"\n"))
}

// create starts an entry dated when the archive was made: zip.Writer.Create
// leaves the date zero, which unzip tools show as 1980-00-00.
func (m *Manifest) create(z *zip.Writer, name string) (io.Writer, error) {
	return z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.at})
}

// copy streams an entry into the archive, hashing it on the way.
func (m *Manifest) copy(z *zip.Writer, name string, r io.Reader) error {
	f, err := m.create(z, name)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		return err
	}
	m.Entries[name] = hex.EncodeToString(h.Sum(nil))
	return nil
}

// Report is what Verify found.
type Report struct {
	Contacts    int
	Entries     int
	Attachments int // attachment files whose bytes match Parley's upload hash
}

// Verify recomputes every entry's digest against the manifest, and every
// attachment's bytes against the SHA-256 Parley recorded on upload.
func Verify(r io.ReaderAt, size int64) (Report, error) {
	var rep Report
	z, err := zip.NewReader(r, size)
	if err != nil {
		return rep, err
	}
	files := map[string]*zip.File{}
	for _, f := range z.File {
		if _, dup := files[f.Name]; dup {
			return rep, fmt.Errorf("entry %s appears twice", f.Name)
		}
		files[f.Name] = f
	}
	mf, ok := files["manifest.json"]
	if !ok {
		return rep, errors.New("no manifest.json: not a complete Parley export")
	}
	var m Manifest
	if err := readJSON(mf, &m); err != nil || m.Format != Format {
		return rep, fmt.Errorf("manifest.json is not a %s manifest", Format)
	}
	for name := range files {
		if _, listed := m.Entries[name]; !listed && name != "manifest.json" {
			return rep, fmt.Errorf("entry %s is not in the manifest", name)
		}
	}
	names := make([]string, 0, len(m.Entries))
	for name := range m.Entries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f, ok := files[name]
		if !ok {
			return rep, fmt.Errorf("entry %s is in the manifest but not in the archive", name)
		}
		if got, err := digest(f, sha256.New()); err != nil {
			return rep, err
		} else if got != m.Entries[name] {
			return rep, fmt.Errorf("entry %s does not match its digest", name)
		}
		rep.Entries++
	}
	for _, id := range m.Contacts {
		var atts []Attachment
		f, ok := files["contacts/"+id+"/attachments.json"]
		if !ok {
			return rep, fmt.Errorf("contact %s has no attachments.json", id)
		}
		if err := readJSON(f, &atts); err != nil {
			return rep, err
		}
		for _, a := range atts {
			if a.Entry == "" {
				continue
			}
			f, ok := files[a.Entry]
			if !ok {
				return rep, fmt.Errorf("attachment %s: %s is missing", a.AttachmentId, a.Entry)
			}
			if got, err := digest(f, sha256.New()); err != nil {
				return rep, err
			} else if a.SHA256 != "" && got != a.SHA256 {
				return rep, fmt.Errorf("attachment %s does not match the SHA-256 recorded on upload", a.AttachmentId)
			}
			rep.Attachments++
		}
		rep.Contacts++
	}
	return rep, nil
}

func digest(f *zip.File, h hash.Hash) (string, error) {
	r, err := f.Open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("entry %s: %w", f.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readJSON(f *zip.File, v any) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("entry %s: %w", f.Name, err)
	}
	return nil
}
