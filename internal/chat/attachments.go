package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

// Attachment flow, as on Amazon Connect: StartAttachmentUpload hands out a
// signed upload URL; the client PUTs the bytes there; CompleteAttachmentUpload
// starts the checks; an ATTACHMENT item carries the verdict (APPROVED or
// REJECTED), preceded by an IN_PROGRESS item when the checks take longer
// than VerdictWait; GetAttachment hands approved files out by signed,
// expiring download URLs.

// Attachment statuses on items.
const (
	StatusApproved   = "APPROVED"
	StatusRejected   = "REJECTED"
	StatusInProgress = "IN_PROGRESS"
)

// ReasonNotScanned is the rejection reason of a file whose checks failed
// (the scanner down, a read error).
const ReasonNotScanned = "The file could not be scanned."

// ScopeChat is the attached-files scope chats use.
const ScopeChat = "CHAT"

const (
	uploadURLLifetime       = 10 * time.Minute
	defaultDownloadLifetime = 300 * time.Second
	verdictTimeout          = 90 * time.Second // Connect gives its scanner 60 s
	// checkLease is how long a process holds an attachment's check: the
	// check and its announcements fit in it, so that no other process
	// takes a live check over.
	checkLease = verdictTimeout + time.Minute
)

// UploadTicket is StartAttachmentUpload's answer.
type UploadTicket struct {
	AttachmentID string
	URL          string
	Expiry       time.Time
	Headers      map[string]string
}

// fileGrant is what a signed file URL grants.
type fileGrant struct {
	FileID  string    `json:"a"`
	Upload  bool      `json:"u,omitempty"`
	Size    int64     `json:"n,omitempty"`
	Type    string    `json:"t,omitempty"`
	Expires time.Time `json:"e"`
}

func (s *Service) attachmentsEnabled() error {
	if s.cfg.Blobs == nil {
		return errorf(Invalid, "Attachments are not enabled on this Parley instance.")
	}
	return nil
}

// Limits returns the instance's attachment limits for a scope.
func (s *Service) Limits(ctx context.Context, instanceID, scope string) (attach.Limits, time.Time, error) {
	fc, err := s.store.FilesConfig(ctx, instanceID, scope)
	if errors.Is(err, store.ErrNotFound) {
		return s.defaultLimits(), time.Time{}, nil
	}
	if err != nil {
		return attach.Limits{}, time.Time{}, err
	}
	return attach.Limits{MaxBytes: fc.MaxBytes, Extensions: fc.Extensions}, fc.ModifiedAt, nil
}

func (s *Service) defaultLimits() attach.Limits {
	if s.cfg.Limits.MaxBytes == 0 {
		return attach.DefaultLimits()
	}
	return s.cfg.Limits
}

// UpdateLimits changes an instance's attachment limits; nil leaves a part
// as it is.
func (s *Service) UpdateLimits(ctx context.Context, instanceID, scope string, maxBytes *int64, extensions []string) (attach.Limits, time.Time, error) {
	if err := s.checkInstance(instanceID); err != nil {
		return attach.Limits{}, time.Time{}, err
	}
	l, _, err := s.Limits(ctx, instanceID, scope)
	if err != nil {
		return l, time.Time{}, err
	}
	if maxBytes != nil {
		l.MaxBytes = *maxBytes
	}
	if extensions != nil {
		l.Extensions = nil
		for _, e := range extensions {
			if e = attach.Extension("." + e); !slices.Contains(l.Extensions, e) {
				l.Extensions = append(l.Extensions, e)
			}
		}
	}
	now := s.now()
	_, err = s.store.Apply(ctx, &store.Change{FilesConfig: &store.FilesConfig{
		InstanceID: instanceID, Scope: scope, MaxBytes: l.MaxBytes, Extensions: l.Extensions, ModifiedAt: now}})
	return l, now, err
}

// StartUpload checks a declared attachment and hands out its upload URL.
func (s *Service) StartUpload(ctx context.Context, sess *Session, name, contentType string, size int64, clientToken string) (UploadTicket, error) {
	var t UploadTicket
	if err := s.attachmentsEnabled(); err != nil {
		return t, err
	}
	scope := "start-upload:" + sess.Participant.ID
	if ok, err := s.idempotent(ctx, scope, clientToken, &t); ok || err != nil {
		return t, err
	}
	if err := s.Usable(ctx, sess); err != nil {
		return t, err
	}
	if silent(sess.Participant) {
		return t, errSilent
	}
	limits, _, err := s.Limits(ctx, sess.Contact.InstanceID, ScopeChat)
	if err != nil {
		return t, err
	}
	if size > limits.MaxBytes {
		return t, errorf(QuotaExceeded, "The file is %d bytes; this chat accepts files up to %d bytes.", size, limits.MaxBytes)
	}
	// The name is stored, shown in items and downloaded without its
	// bidirectional controls, so that it cannot pose as another.
	if name = attach.CleanName(name); name == "" {
		return t, errorf(Invalid, "The attachment name has no visible characters.")
	}
	if err := limits.CheckDeclared(name, contentType, size); err != nil {
		return t, errorf(Invalid, "%s", err.Error())
	}
	// A quick refusal; the quota itself is a Limit of the change below.
	n, err := s.store.CountFiles(ctx, sess.Contact.ID)
	if err != nil {
		return t, err
	}
	if n >= attach.MaxPerChat {
		return t, errFileQuota
	}
	if err := s.checkSpace(size); err != nil {
		return t, err
	}
	now := s.now()
	f := store.File{
		ID: secret.NewTimeUUID(), ContactID: sess.Contact.ID, ParticipantID: sess.Participant.ID, Name: name,
		ContentType: contentType, Size: size, State: store.FilePending, CreatedAt: now,
	}
	t.AttachmentID = f.ID
	t.Expiry = now.Add(uploadURLLifetime)
	if s.cfg.Direct != nil {
		p, err := s.cfg.Direct.PresignPut(ctx, f.ID, size, contentType, uploadURLLifetime)
		if err != nil {
			return t, err
		}
		// As on Connect, the headers include Content-Length: a browser's
		// fetch drops it and sends the body's own, which is the same.
		t.URL, t.Headers = p.URL, p.Headers
	} else {
		grant, _ := json.Marshal(fileGrant{FileID: f.ID, Upload: true, Size: size, Type: contentType, Expires: t.Expiry})
		t.URL = s.cfg.FileURL(f.ID, s.files.Sign(grant))
		t.Headers = map[string]string{"Content-Type": contentType}
	}
	_, err = s.store.Apply(ctx, &store.Change{
		RequireActive: sess.Contact.ID,
		Idempotency:   s.idempotencyRecord(scope, sess.Contact.ID, clientToken, t),
		NewFile:       &f,
		Limits:        []store.Limit{{Count: store.CountFiles, Key: sess.Contact.ID, Max: attach.MaxPerChat}},
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		_, err = s.idempotent(ctx, scope, clientToken, &t)
		return t, err
	case errors.Is(err, store.ErrEnded):
		return UploadTicket{}, errParticipantEnded
	case errors.Is(err, store.ErrLimit):
		return UploadTicket{}, limitError(err)
	case err != nil:
		return UploadTicket{}, err
	}
	return t, nil
}

func (s *Service) verifyFileToken(token, fileID string, upload bool) (fileGrant, error) {
	var g fileGrant
	payload, err := s.files.Verify(token)
	if err != nil || json.Unmarshal(payload, &g) != nil || g.FileID != fileID || g.Upload != upload {
		return g, errorf(AccessDenied, "The URL is not valid.")
	}
	if !s.now().Before(g.Expires) {
		return g, errorf(AccessDenied, "The URL has expired.")
	}
	return g, nil
}

// ErrTooLarge is returned by ReceiveUpload when more bytes arrive than were
// declared.
var ErrTooLarge = errorf(QuotaExceeded, "More bytes arrived than the declared AttachmentSizeInBytes.")

// ReceiveUpload stores the bytes PUT to an upload URL. It streams them to a
// temporary blob, hashing on the way, refuses the moment more bytes arrive
// than were declared, and commits the blob only when exactly the declared
// size arrived. A URL works once.
func (s *Service) ReceiveUpload(ctx context.Context, fileID, token, contentType string, body io.Reader) (sha string, err error) {
	if err := s.attachmentsEnabled(); err != nil {
		return "", err
	}
	g, err := s.verifyFileToken(token, fileID, true)
	if err != nil {
		return "", err
	}
	if contentType != g.Type {
		return "", errorf(AccessDenied, "The request's Content-Type must be the one in HeadersToInclude, %s.", g.Type)
	}
	release, ok := s.claimUpload(fileID, body)
	if !ok {
		return "", errorf(Conflict, "This attachment is already being uploaded.")
	}
	defer release()
	f, err := s.store.File(ctx, fileID)
	if err != nil {
		return "", err
	}
	// The claim on the upload is a conditional state change, so that no
	// two servers (or requests) receive one file at once. It names this
	// PUT, which records the upload (or gives it back) only while it holds
	// the claim.
	receiver := secret.NewTimeUUID()
	now := s.now()
	claim := &store.Change{RequireActive: f.ContactID, FileUpdates: []store.FileUpdate{{ID: fileID,
		From: store.FilePending, To: store.FileReceiving, Receiver: receiver, LeaseUntil: now.Add(s.cfg.UploadLease), At: now}}}
	if f.State == store.FileReceiving {
		// No PUT of this process holds the file (claimUpload). On a store
		// this process owns, the one that claimed it died with its process,
		// a crash; on a shared store it may be receiving on another server,
		// whose renewals keep its lease from running out: only a claim
		// whose lease ran out (its server died) is taken over.
		claim.FileUpdates[0].From = store.FileReceiving
		claim.FileUpdates[0].IfLeaseEnded = s.cfg.SharedStore
	}
	if _, err := s.store.Apply(ctx, claim); err != nil {
		if errors.Is(err, store.ErrEnded) {
			return "", errParticipantEnded
		}
		if !errors.Is(err, store.ErrConflict) {
			return "", err
		}
		if now, err := s.store.File(ctx, fileID); err == nil && now.State == store.FileReceiving {
			return "", errorf(Conflict, "This attachment is already being uploaded.")
		}
		return "", errorf(AccessDenied, "This upload URL has been used.")
	}
	received := false
	defer func() {
		if !received { // a failed upload may be tried again with the URL
			s.store.Apply(context.WithoutCancel(ctx), &store.Change{FileUpdates: []store.FileUpdate{
				{ID: fileID, From: store.FileReceiving, To: store.FilePending, IfReceiver: receiver, At: s.now()}}})
		}
	}()
	var lost atomic.Bool // the claim was taken over
	if s.cfg.SharedStore {
		defer s.keepReceiving(ctx, fileID, receiver, body, &lost)()
	}
	if err := s.checkSpace(g.Size); err != nil {
		return "", err
	}
	w, err := s.cfg.Blobs.Create(ctx, fileID)
	if err != nil {
		return "", err
	}
	defer w.Abort() // a no-op once committed
	sw := &spaceWriter{w: w, s: s}
	// The content checks (type, markup, image header) read only the file's
	// start: kept as it streams in, so that the check after Complete does
	// not read it back.
	head := attach.NewHead(g.Size)
	n, sha, err := attach.CopyHashed(io.MultiWriter(sw, head), body, g.Size+1)
	if sw.err != nil {
		if errors.Is(sw.err, ErrStorageFull) {
			return "", ErrStorageFull
		}
		// The server's fault (a full or failing disk): a 5xx, and the
		// detail, which names the server's paths, for the log only.
		return "", fmt.Errorf("writing upload %s: %w", fileID, sw.err)
	}
	if lost.Load() {
		return "", errTakenOver
	}
	if err != nil {
		return "", errorf(Invalid, "The upload was interrupted: %v", err)
	}
	if n > g.Size {
		return "", ErrTooLarge
	}
	if n < g.Size {
		return "", errorf(Invalid, "The upload has %d bytes; %d were declared.", n, g.Size)
	}
	if s.cfg.SharedStore {
		// The blob's key is the file's: the claim, renewed (for a lease's
		// time) before the bytes take it, keeps a PUT whose claim was taken
		// over from replacing those of the one that holds it.
		if err := s.renewReceiving(ctx, fileID, receiver); errors.Is(err, store.ErrConflict) {
			return "", errTakenOver
		} else if err != nil {
			return "", err
		}
	}
	if err := w.Commit(); err != nil {
		return "", err
	}
	_, err = s.store.Apply(ctx, &store.Change{
		RequireActive: f.ContactID,
		FileUpdates: []store.FileUpdate{{ID: fileID, From: store.FileReceiving, To: store.FileUploaded, SHA256: sha,
			IfReceiver: receiver, At: s.now()}},
	})
	if err != nil && !errors.Is(err, store.ErrEnded) && !errors.Is(err, store.ErrConflict) {
		// Not a refusal: the answer to the COMMIT may have been lost, and
		// the file be UPLOADED all the same. The row, read again, says.
		if now, rerr := s.store.File(context.WithoutCancel(ctx), fileID); rerr == nil && uploadedAs(now, sha) {
			err = nil
		} else {
			// Unknown: the bytes stay. They are either the file's, or
			// replaced by the URL's retry, or deleted with the file when
			// it is abandoned (dropAbandoned) or expires.
			s.log.Error("recording an upload: its outcome is unknown, its bytes are kept", "attachment", fileID, "err", err)
			return "", err
		}
	}
	received = err == nil
	if received {
		if v, ok := head.Check(g.Size, f.Name); ok {
			s.checked.put(fileID, v, s.now())
		}
		return sha, nil
	}
	if errors.Is(err, store.ErrEnded) {
		// The file stays unreceived (the deferred give-back), and an ended
		// chat takes no upload: the bytes are nobody's.
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), fileID)
		return "", errParticipantEnded
	}
	// The file moved on without this PUT. Only a deleted file (abandoned,
	// expired) surely refers to no bytes: whatever else it is, the bytes
	// may be another PUT's of the same URL.
	if now, rerr := s.store.File(context.WithoutCancel(ctx), fileID); rerr == nil && now.State == store.FileDeleted {
		s.cfg.Blobs.Delete(context.WithoutCancel(ctx), fileID)
	}
	return "", errorf(AccessDenied, "This upload URL has been used.")
}

// uploadedAs reports whether f's bytes arrived, with the given hash: past
// RECEIVING, and not given up.
func uploadedAs(f store.File, sha string) bool {
	switch f.State {
	case store.FilePending, store.FileReceiving, store.FileDeleted:
		return false
	}
	return f.SHA256 == sha
}

// errTakenOver is the answer to a PUT whose claim on its file was taken
// over by another (its server was cut off from the database for longer
// than the claim's lease).
var errTakenOver = errorf(Conflict, "This attachment is being uploaded by another request.")

// renewReceiving extends the lease of a PUT's claim on its file; it fails
// with store.ErrConflict once the claim is no longer the PUT's.
func (s *Service) renewReceiving(ctx context.Context, fileID, receiver string) error {
	now := s.now()
	_, err := s.store.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{{ID: fileID, From: store.FileReceiving,
		To: store.FileReceiving, Receiver: receiver, IfReceiver: receiver, LeaseUntil: now.Add(s.cfg.UploadLease), At: now}}})
	return err
}

// keepReceiving renews a PUT's claim on its file every third of its lease
// until the returned stop is called (stop waits for it). A claim found
// taken over sets lost and interrupts the PUT's body, if it can be.
func (s *Service) keepReceiving(ctx context.Context, fileID, receiver string, body io.Reader, lost *atomic.Bool) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.UploadLease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, s.cfg.UploadLease/3)
			err := s.renewReceiving(rctx, fileID, receiver)
			rcancel()
			switch {
			case errors.Is(err, store.ErrConflict):
				lost.Store(true)
				if b, ok := body.(interface{ Interrupt() }); ok {
					b.Interrupt()
				}
				return
			case err != nil && ctx.Err() == nil:
				// The next renewal may pass; if the lease runs out
				// meanwhile, the check before the bytes are kept fails.
				s.log.Warn("renewing an upload's claim", "attachment", fileID, "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// ErrStorageFull refuses an upload that would leave less free space than
// Config.MinFreeBytes where attachments are kept.
var ErrStorageFull = errorf(QuotaExceeded, "The server is short of storage space and cannot take files now.")

// checkSpace refuses a file of size bytes that would leave less than the
// free-space floor. A failure to measure lets the upload through: the
// write then fails on its own if the disk is really full.
func (s *Service) checkSpace(size int64) error {
	if s.cfg.FreeSpace == nil || s.cfg.MinFreeBytes <= 0 {
		return nil
	}
	free, err := s.cfg.FreeSpace()
	if err != nil {
		return nil
	}
	if free-size < s.cfg.MinFreeBytes {
		s.log.Warn("refusing an upload: free space under the floor", "free", free, "size", size, "floor", s.cfg.MinFreeBytes)
		return ErrStorageFull
	}
	return nil
}

// spaceCheckEvery is how many bytes an upload writes between two checks of
// the free space: other uploads and the database use the disk too.
const spaceCheckEvery = 4 << 20

// spaceWriter writes an upload to its blob, keeps the write error apart
// from the client's read errors, and stops when free space runs under the
// floor.
type spaceWriter struct {
	w     io.Writer
	s     *Service
	since int
	err   error
}

func (sw *spaceWriter) Write(p []byte) (int, error) {
	if sw.since += len(p); sw.since >= spaceCheckEvery {
		sw.since = 0
		if err := sw.s.checkSpace(0); err != nil {
			sw.err = err
			return 0, err
		}
	}
	n, err := sw.w.Write(p)
	if err != nil {
		sw.err = err
	}
	return n, err
}

// upload is a PUT receiving a file's bytes.
type upload struct {
	interrupt func() // nil if the body cannot be interrupted
	done      chan struct{}
}

// claimUpload makes this PUT the one receiving a file's bytes. If another
// holds the file and its body can be interrupted (fileapi's can), the newer
// PUT takes over: the older is most likely a connection that died silently,
// and its client's retry should not wait for it to time out.
func (s *Service) claimUpload(id string, body io.Reader) (release func(), ok bool) {
	s.mu.Lock()
	if prev := s.uploading[id]; prev != nil {
		s.mu.Unlock()
		if prev.interrupt == nil {
			return nil, false
		}
		prev.interrupt()
		select {
		case <-prev.done:
		case <-time.After(5 * time.Second):
			return nil, false
		}
		s.mu.Lock()
		if s.uploading[id] != nil { // a third PUT was quicker
			s.mu.Unlock()
			return nil, false
		}
	}
	u := &upload{done: make(chan struct{})}
	if b, ok := body.(interface{ Interrupt() }); ok {
		u.interrupt = b.Interrupt
	}
	s.uploading[id] = u
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.uploading, id)
		s.mu.Unlock()
		close(u.done)
	}, true
}

// directUploaded checks, in direct mode, that the client's PUT to the
// presigned URL arrived whole: S3 has the object, of the declared size and
// type. Through Parley's own URL, a pending file has not arrived.
func (s *Service) directUploaded(ctx context.Context, f store.File) error {
	notYet := errorf(Conflict, "The attachment has not been uploaded completely.")
	if s.cfg.Direct == nil {
		return notYet
	}
	size, typ, err := s.cfg.Direct.Stat(ctx, f.ID)
	if errors.Is(err, blob.ErrNotFound) {
		return notYet
	}
	if err != nil {
		return err
	}
	if size != f.Size || typ != f.ContentType {
		// The presigned URL's signature covers both, so a bucket that
		// let this through does not enforce signed headers.
		s.log.Error("an object in S3 differs from its presigned upload", "attachment", f.ID, "size", size, "type", typ)
		return errorf(Invalid, "The uploaded file is not the one declared.")
	}
	return nil
}

// CompleteUpload starts the checks of an uploaded attachment and returns.
// Nothing is announced before answered is closed (the caller closes it once
// its answer is written: on Connect the answer comes first); then the
// verdict, or after VerdictWait an IN_PROGRESS item with the verdict to
// follow.
func (s *Service) CompleteUpload(ctx context.Context, sess *Session, fileID, clientToken string, answered <-chan struct{}) error {
	if err := s.attachmentsEnabled(); err != nil {
		return err
	}
	scope := "complete-upload:" + sess.Participant.ID
	var done struct{}
	if ok, err := s.idempotent(ctx, scope, clientToken, &done); ok || err != nil {
		return err
	}
	if err := s.Usable(ctx, sess); err != nil {
		return err
	}
	f, err := s.store.File(ctx, fileID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.ContactID != sess.Contact.ID) {
		return errorf(Invalid, "Attachment %s not found in this chat.", fileID)
	}
	if err != nil {
		return err
	}
	if f.ParticipantID != sess.Participant.ID {
		return errorf(AccessDenied, "Only the participant who uploaded an attachment can complete it.")
	}
	from := store.FileUploaded
	switch f.State {
	case store.FilePending:
		if err := s.directUploaded(ctx, f); err != nil {
			return err
		}
		from = store.FilePending
	case store.FileUploaded:
	case store.FileReceiving:
		return errorf(Conflict, "The attachment has not been uploaded completely.")
	default:
		return errorf(Conflict, "The attachment upload was completed already.")
	}
	_, err = s.store.Apply(ctx, &store.Change{
		RequireActive: sess.Contact.ID,
		Idempotency:   s.idempotencyRecord(scope, sess.Contact.ID, clientToken, done),
		FileUpdates:   []store.FileUpdate{{ID: fileID, From: from, To: store.FileInProgress, At: s.now(), LeaseUntil: s.now().Add(checkLease)}},
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return nil
	case errors.Is(err, store.ErrConflict):
		return errorf(Conflict, "The attachment upload was completed already.")
	case errors.Is(err, store.ErrEnded):
		return errParticipantEnded
	case err != nil:
		return err
	}
	f.State = store.FileInProgress
	s.spawn(func() { s.judge(f, sess.Participant, s.cfg.VerdictWait, answered) })
	return nil
}

// judge checks a file and announces the verdict, on a goroutine of its own
// (spawned, so Shutdown waits for it). It waits up to wait for the
// verdict; past that it announces the file as IN_PROGRESS, and the verdict
// follows when the check ends.
func (s *Service) judge(f store.File, uploader store.Participant, wait time.Duration, answered <-chan struct{}) {
	deadline := time.Now().Add(wait)
	result := make(chan attach.Verdict, 1)
	if !s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.work, verdictTimeout)
		defer cancel()
		result <- s.inspect(ctx, f)
	}) {
		return // shutting down: the file stays IN_PROGRESS, claimed again when its lease runs out
	}
	item := store.Item{
		ID: secret.NewTimeUUID(), ContactID: f.ContactID, ParticipantID: uploader.ID, Type: TypeAttachment,
		DisplayName: uploader.DisplayName, Role: uploader.Role, InTranscript: true,
	}
	if f.ItemID != "" { // resumed after a restart: the IN_PROGRESS item exists
		s.announce(f, item, <-result, f.ItemID)
		return
	}
	select { // bounded, should the caller never close answered
	case <-answered:
	case <-time.After(wait):
	}
	select {
	case v := <-result:
		s.announce(f, item, v, "")
		return
	case <-time.After(time.Until(deadline)):
	}
	item.Attachments = []store.Attachment{{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Status: StatusInProgress}}
	ctx, cancel := context.WithTimeout(s.work, 30*time.Second)
	_, err := s.store.Apply(ctx, &store.Change{
		Items:       []store.Item{item},
		FileUpdates: []store.FileUpdate{{ID: f.ID, From: store.FileInProgress, To: store.FileInProgress, ItemID: item.ID, At: s.now()}},
	})
	cancel()
	announced := err == nil
	if err != nil {
		s.log.Error("announcing an attachment in progress", "attachment", f.ID, "err", err)
		// Unless it was written after all (the file then names it), there
		// is no IN_PROGRESS item for the verdict to update.
		if now, err := s.store.File(s.work, f.ID); err == nil && now.ItemID == item.ID {
			announced = true
		}
	}
	// judge runs on a goroutine of its own, which Shutdown waits for: the
	// verdict follows on it.
	v := <-result
	if !announced { // the verdict is the attachment's transcript item
		item.ID = secret.NewTimeUUID()
		s.announce(f, item, v, "")
		return
	}
	next := item
	next.ID = secret.NewTimeUUID()
	next.InTranscript = false // the transcript's item is updated in place
	s.announce(f, next, v, item.ID)
}

// maxChecks bounds the attachment checks that run at once in a process.
// With a scanner each streams a whole file to clamd, whose default
// MaxThreads is 10: more at once only queue there (on their own timeout)
// and compete for the disk.
const maxChecks = 8

// inspect runs the checks; a failure to check is a rejection, as Connect
// rejects what its scanner could not judge.
func (s *Service) inspect(ctx context.Context, f store.File) attach.Verdict {
	start := time.Now()
	v, err := s.check(ctx, f)
	if err != nil {
		// The reason is shown to every participant: the detail (clamd's
		// address, a path) is for the log only.
		s.log.Error("checking an attachment", "attachment", f.ID, "err", err)
		v = attach.Verdict{Reason: ReasonNotScanned}
	}
	verdict := StatusRejected
	if v.Approved {
		verdict = StatusApproved
	}
	s.cfg.Metrics.Verdict(verdict, time.Since(start))
	return v
}

func (s *Service) check(ctx context.Context, f store.File) (attach.Verdict, error) {
	// Content checked as the bytes arrived here: a rejection needs nothing
	// more, and an approval only the scanner, if any.
	content, checked := s.checked.take(f.ID)
	if checked && !content.Approved {
		return content, nil
	}
	select {
	case s.checks <- struct{}{}:
		defer func() { <-s.checks }()
	case <-ctx.Done():
		return attach.Verdict{}, fmt.Errorf("waiting for a check's turn: %w", ctx.Err())
	}
	b, err := s.cfg.Blobs.Open(ctx, f.ID)
	if errors.Is(err, blob.ErrNotFound) {
		return attach.Verdict{Reason: "The uploaded file is missing."}, nil
	}
	if err != nil { // the store in trouble: a file that could not be scanned
		return attach.Verdict{}, fmt.Errorf("opening the file: %w", err)
	}
	defer b.Close()
	var scanner attach.Scanner
	if s.cfg.Scanner != nil {
		scanner = timedScanner{s.cfg.Scanner, s.cfg.Metrics}
	}
	if checked {
		return attach.Scan(ctx, b, b.Size(), content, scanner)
	}
	return attach.Inspect(ctx, b, b.Size(), f.Name, f.ContentType, scanner)
}

// checkedContent holds the content verdicts of the files whose bytes
// arrived in this process, until their check takes them. A check that
// finds none (the bytes arrived at another server, or before a restart)
// reads the file's start instead.
type checkedContent struct {
	mu sync.Mutex
	m  map[string]checkedVerdict
}

type checkedVerdict struct {
	v  attach.Verdict
	at time.Time
}

// maxCheckedContent bounds checkedContent, which files uploaded and never
// completed would otherwise grow: about 100 bytes each.
const maxCheckedContent = 10_000

func (c *checkedContent) put(id string, v attach.Verdict, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]checkedVerdict)
	}
	if len(c.m) >= maxCheckedContent {
		for k, e := range c.m {
			if now.Sub(e.at) > time.Hour {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCheckedContent {
			return // the check reads the file's start then
		}
	}
	c.m[id] = checkedVerdict{v, now}
}

func (c *checkedContent) take(id string) (attach.Verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	delete(c.m, id)
	return e.v, ok
}

// timedScanner measures each scan for the metrics.
type timedScanner struct {
	attach.Scanner
	m *obs.Metrics
}

func (t timedScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	start := time.Now()
	defer func() { t.m.Scan(time.Since(start)) }()
	return t.Scanner.Scan(ctx, r)
}

// announce records a verdict and pushes it in item. When inProgressItem is
// set, the transcript's IN_PROGRESS item is updated to the verdict too.
func (s *Service) announce(f store.File, item store.Item, v attach.Verdict, inProgressItem string) {
	if s.work.Err() != nil {
		return // the check was cut short by Shutdown: it is claimed again when its lease runs out
	}
	ctx, cancel := context.WithTimeout(s.work, 30*time.Second)
	defer cancel()
	status, to := StatusApproved, store.FileApproved
	if !v.Approved {
		status, to = StatusRejected, store.FileRejected
	}
	att := []store.Attachment{{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Status: status}}
	item.Attachments = att
	// A rejection's reason rides in the item's Content (a field of the
	// model's Item), so that every participant can say why.
	item.Content = v.Reason
	ch := &store.Change{
		Items:       []store.Item{item},
		FileUpdates: []store.FileUpdate{{ID: f.ID, From: store.FileInProgress, To: to, ServeType: v.Type, Reason: v.Reason, At: s.now()}},
	}
	if inProgressItem != "" {
		ch.ItemUpdates = map[string]store.ItemUpdate{inProgressItem: {Attachments: att, Content: v.Reason}}
	} else {
		ch.FileUpdates[0].ItemID = item.ID
	}
	if !v.Approved {
		// Rejected bytes go first: a crash after this leaves the file
		// IN_PROGRESS with no bytes, which judges as rejected again.
		if err := s.dropRejected(ctx, f.ID); err != nil {
			s.log.Error("deleting a rejected attachment", "attachment", f.ID, "err", err)
		}
	}
	if _, err := s.store.Apply(ctx, ch); err != nil {
		s.log.Error("recording an attachment verdict", "attachment", f.ID, "err", err)
	}
}

// dropRejected deletes a rejected file's bytes. With presigned uploads an
// empty object takes their place instead: the upload URL writes only a
// key that does not exist (If-None-Match: *), and stays valid for a while,
// so deleting the object would let the same URL put the bytes back.
func (s *Service) dropRejected(ctx context.Context, id string) error {
	if s.cfg.Direct == nil {
		return s.cfg.Blobs.Delete(ctx, id)
	}
	w, err := s.cfg.Blobs.Create(ctx, id)
	if err != nil {
		return err
	}
	if err := w.Commit(); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// sweepFiles claims the checks whose lease ran out (their process died or
// stopped mid-check, or never started them) and runs them here.
func (s *Service) sweepFiles(ctx context.Context, now time.Time) {
	files, err := s.store.ClaimFiles(ctx, now, checkLease, sweepBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("claiming attachment checks", "err", err)
		}
		return
	}
	for _, f := range files {
		p, err := s.store.Participant(ctx, f.ParticipantID)
		if err != nil {
			s.log.Error("resuming an attachment check", "attachment", f.ID, "err", err)
			continue
		}
		s.spawn(func() { s.judge(f, p, 0, nil) })
	}
}

// Download is an approved attachment, opened.
type Download struct {
	File store.File
	Blob blob.File
}

// GetAttachment returns a signed, expiring download URL for an approved
// attachment of the session's chat.
func (s *Service) GetAttachment(ctx context.Context, sess *Session, fileID string, expiry time.Duration) (url string, expires time.Time, size int64, err error) {
	if err := s.attachmentsEnabled(); err != nil {
		return "", time.Time{}, 0, err
	}
	if err := s.Usable(ctx, sess); err != nil {
		return "", time.Time{}, 0, err
	}
	return s.attachmentURL(ctx, sess, fileID, expiry)
}

// attachmentURL is GetAttachment without the check that the session may
// still act: the console reads its agent's chats after they end.
func (s *Service) attachmentURL(ctx context.Context, sess *Session, fileID string, expiry time.Duration) (url string, expires time.Time, size int64, err error) {
	f, err := s.store.File(ctx, fileID)
	if errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, 0, errorf(AccessDenied, "Attachment %s is not part of this chat.", fileID)
	}
	if err != nil {
		return "", time.Time{}, 0, err
	}
	if f.ContactID != sess.Contact.ID {
		// A persistent chat's transcript carries its past sessions' items,
		// attachments included, so their files are this chat's to download.
		chain, err := s.chain(ctx, sess.Contact)
		if err != nil {
			return "", time.Time{}, 0, err
		}
		if !slices.Contains(chain[1:], f.ContactID) {
			return "", time.Time{}, 0, errorf(AccessDenied, "Attachment %s is not part of this chat.", fileID)
		}
	}
	if sess.Participant.Role == RoleCustomBot {
		// As on Connect: bots do not get what customers upload.
		if up, err := s.store.Participant(ctx, f.ParticipantID); err == nil && up.Role == RoleCustomer {
			return "", time.Time{}, 0, errorf(AccessDenied, "Custom bots cannot download attachments customers upload.")
		}
	}
	switch f.State {
	case store.FileApproved:
	case store.FileRejected:
		return "", time.Time{}, 0, errorf(Invalid, "The attachment was rejected: %s", f.Reason)
	case store.FileDeleted:
		if f.Reason == ReasonAbandoned {
			return "", time.Time{}, 0, errorf(Invalid, "%s", ReasonAbandoned)
		}
		return "", time.Time{}, 0, errorf(Invalid, "The attachment was deleted under the retention policy.")
	default:
		return "", time.Time{}, 0, errorf(Invalid, "The attachment is not approved yet (%s).", f.State)
	}
	if expiry == 0 {
		expiry = defaultDownloadLifetime
	}
	expires = s.now().Add(expiry)
	if s.cfg.Direct != nil {
		url, err = s.cfg.Direct.PresignGet(ctx, f.ID, attach.ContentDisposition(f.Name), f.ServeType, expiry)
		return url, expires, f.Size, err
	}
	grant, _ := json.Marshal(fileGrant{FileID: f.ID, Expires: expires})
	return s.cfg.FileURL(f.ID, s.files.Sign(grant)), expires, f.Size, nil
}

// OpenDownload opens the file a download URL names. The caller closes it.
func (s *Service) OpenDownload(ctx context.Context, fileID, token string) (Download, error) {
	if err := s.attachmentsEnabled(); err != nil {
		return Download{}, err
	}
	if _, err := s.verifyFileToken(token, fileID, false); err != nil {
		return Download{}, err
	}
	f, err := s.store.File(ctx, fileID)
	if err != nil || f.State != store.FileApproved {
		return Download{}, errorf(NotFound, "The attachment is not available.")
	}
	b, err := s.cfg.Blobs.Open(ctx, f.ID)
	if errors.Is(err, blob.ErrNotFound) {
		return Download{}, errorf(NotFound, "The attachment is not available.")
	}
	if err != nil {
		return Download{}, err
	}
	return Download{File: f, Blob: b}, nil
}

// runRetention deletes the bytes of attachments of chats that ended more
// than Retention ago, until ctx is done.
func (s *Service) runRetention(ctx context.Context) {
	every := min(s.cfg.Retention/10, time.Hour)
	for {
		if err := s.expireFiles(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("attachment retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// expireFiles deletes the attachments of chats that ended longer than
// Retention ago, whatever their state (approved, rejected, or never
// uploaded or completed), in batches.
func (s *Service) expireFiles(ctx context.Context) error {
	for {
		files, err := s.store.ExpiredFiles(ctx, s.now().Add(-s.cfg.Retention), 100)
		if err != nil || len(files) == 0 {
			return err
		}
		for _, f := range files {
			s.cfg.Blobs.Delete(ctx, thumbKey(f.ID))
			if err := s.cfg.Blobs.Delete(ctx, f.ID); err != nil {
				return fmt.Errorf("deleting %s: %w", f.ID, err)
			}
			_, err := s.store.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{
				{ID: f.ID, From: f.State, To: store.FileDeleted, At: s.now()}}})
			if errors.Is(err, store.ErrConflict) {
				continue // another process (or request) changed it first: not ours to count
			}
			if err != nil {
				return err
			}
			s.cfg.Metrics.Pruned("files", 1)
		}
	}
}

// abandonAfter is how long after StartAttachmentUpload an upload that was
// not completed is deleted: its URL's life, and as long again for a PUT
// that began in time to finish and be completed.
const abandonAfter = 2 * uploadURLLifetime

// ReasonAbandoned is why a file whose upload was never completed is gone.
const ReasonAbandoned = "The upload was not completed in time."

// dropAbandoned deletes the files whose upload was started and never
// completed. The state moves first, conditionally: a PUT or Complete
// racing it then fails (and a PUT deletes its own bytes), so no bytes are
// deleted under a file that goes on.
func (s *Service) dropAbandoned(ctx context.Context) error {
	for {
		files, err := s.store.AbandonedFiles(ctx, s.now().Add(-abandonAfter), 100)
		if err != nil || len(files) == 0 {
			return err
		}
		for _, f := range files {
			_, err := s.store.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{
				{ID: f.ID, From: f.State, To: store.FileDeleted, Reason: ReasonAbandoned, At: s.now()}}})
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return err
			}
			if err := s.cfg.Blobs.Delete(ctx, f.ID); err != nil {
				return fmt.Errorf("deleting %s: %w", f.ID, err)
			}
		}
	}
}

// thumbKey is where an attachment's preview is cached.
func thumbKey(fileID string) string { return fileID + "-thumb" }

// OpenThumbnail opens the preview of an approved image, made on first use
// and kept. The URL GetAttachment gave for the file authorises it.
func (s *Service) OpenThumbnail(ctx context.Context, fileID, token string) (Download, error) {
	d, err := s.OpenDownload(ctx, fileID, token)
	if err != nil {
		return d, err
	}
	d.Blob.Close()
	noPreview := errorf(NotFound, "This attachment has no preview.")
	if d.File.ServeType != "image/png" && d.File.ServeType != "image/jpeg" {
		return Download{}, noPreview
	}
	key := thumbKey(fileID)
	if b, err := s.cfg.Blobs.Open(ctx, key); err == nil {
		d.Blob = b
		return d, nil
	}
	// One maker per file, so that a preview is made once; attach.Thumbnail
	// bounds the memory of all of them together.
	defer s.lockThumb(fileID)()
	if b, err := s.cfg.Blobs.Open(ctx, key); err == nil {
		d.Blob = b
		return d, nil
	}
	src, err := s.cfg.Blobs.Open(ctx, fileID)
	if err != nil {
		return Download{}, err
	}
	thumb, _, err := attach.Thumbnail(ctx, src, src.Size(), d.File.ServeType)
	src.Close()
	if errors.Is(err, attach.ErrNoThumbnail) {
		return Download{}, noPreview
	}
	if err != nil {
		return Download{}, err
	}
	w, err := s.cfg.Blobs.Create(ctx, key)
	if err != nil {
		return Download{}, err
	}
	if _, err := w.Write(thumb); err != nil {
		w.Abort()
		return Download{}, err
	}
	if err := w.Commit(); err != nil {
		return Download{}, err
	}
	d.Blob, err = s.cfg.Blobs.Open(ctx, key)
	return d, err
}

// AttachmentsEnabled reports whether the instance takes attachments.
func (s *Service) AttachmentsEnabled() bool { return s.attachmentsEnabled() == nil }

// lockThumb locks the making of one file's preview and returns the unlock.
func (s *Service) lockThumb(fileID string) func() {
	s.mu.Lock()
	l := s.thumbLocks[fileID]
	if l == nil {
		l = &keyLock{}
		s.thumbLocks[fileID] = l
	}
	l.waiters++
	s.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(s.thumbLocks, fileID)
		}
		s.mu.Unlock()
	}
}

// keyLock is a mutex for one key, dropped when nobody holds or awaits it.
type keyLock struct {
	sync.Mutex
	waiters int // guarded by Service.mu
}
