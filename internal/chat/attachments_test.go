package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/sqlite"
)

func fileService(t *testing.T, dir string, clk *clock, retention time.Duration) (*Service, *sqlite.DB, *blob.Local) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{InstanceID: "i", QueueID: "q", Now: clk.Now, Blobs: blobs, Retention: retention,
		WebsocketURL: func(string) string { return "" }, FileURL: func(id, tok string) string { return id + "?token=" + tok }},
		st, secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, st, blobs
}

func tokenOf(url string) string {
	_, tok, _ := bytes.Cut([]byte(url), []byte("?token="))
	return string(tok)
}

// uploaded starts a chat and uploads one text file to it, up to the point
// where CompleteAttachmentUpload would run.
func uploaded(t *testing.T, svc *Service) (*Session, string) {
	t.Helper()
	sess, tk := startUpload(t, svc)
	if _, err := svc.ReceiveUpload(context.Background(), tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	return sess, tk.AttachmentID
}

// TestVerdictResumesAfterRestart: a file whose checks were interrupted by a
// crash (IN_PROGRESS in the store) is judged when the server starts again.
func TestVerdictResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, dir, clk, 0)
	_, id := uploaded(t, svc)
	// As if CompleteAttachmentUpload committed and the process died before
	// the verdict.
	if _, err := st.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{{ID: id, From: store.FileUploaded, To: store.FileInProgress, At: clk.Now()}}}); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	st.Close()
	blobs.Close()

	svc, st, blobs = fileService(t, dir, clk, 0)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f, _ := st.File(ctx, id)
		if f.State == store.FileApproved {
			if f.ItemID == "" {
				t.Error("the verdict was recorded without its ATTACHMENT item")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("file still %s after a restart", f.State)
		}
	}
}

func TestRetentionDeletesAttachmentsOfEndedChats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, dir, clk, time.Hour)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	sess, id := uploaded(t, svc)
	answered := make(chan struct{})
	close(answered)
	if err := svc.CompleteUpload(ctx, sess, id, "c2", answered); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if f, _ := st.File(ctx, id); f.State == store.FileApproved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no verdict")
		}
	}
	if err := svc.expireFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := st.File(ctx, id); f.State != store.FileApproved {
		t.Fatalf("a live chat's attachment was expired: %s", f.State)
	}
	if err := svc.StopContact(ctx, "i", sess.Contact.ID); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Minute)
	svc.expireFiles(ctx)
	if f, _ := st.File(ctx, id); f.State != store.FileApproved {
		t.Fatalf("expired before the retention period: %s", f.State)
	}
	clk.Add(2 * time.Minute)
	if err := svc.expireFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := st.File(ctx, id); f.State != store.FileDeleted {
		t.Errorf("after the retention period: %s", f.State)
	}
	if _, err := blobs.Open(ctx, id); err == nil {
		t.Error("the bytes are still there")
	}
}

// FuzzVerifyFileToken: only a token the service signed, for that file and
// that direction, unexpired, opens an upload or download.
func FuzzVerifyFileToken(f *testing.F) {
	// A fixed clock, so that every fuzzing process makes the same token.
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	svc := New(Config{InstanceID: "i", Now: clk.Now}, nil, secret.Key{5}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	grant, _ := json.Marshal(fileGrant{FileID: "file-1", Upload: true, Size: 10, Type: "text/plain", Expires: clk.Now().Add(time.Minute)})
	valid := svc.files.Sign(grant)
	f.Add(valid, "file-1", true)
	f.Add(valid, "file-2", true)
	f.Add(valid, "file-1", false)
	f.Add("eyJhIjoiZmlsZS0xIn0.AAAA", "file-1", false)
	f.Fuzz(func(t *testing.T, token, fileID string, upload bool) {
		g, err := svc.verifyFileToken(token, fileID, upload)
		if err != nil {
			if KindOf(err) != AccessDenied {
				t.Fatalf("error %v is not AccessDenied", err)
			}
			return
		}
		if token != valid || fileID != "file-1" || !upload || g.Size != 10 {
			t.Fatalf("verified token %q for %q (upload %v)", token, fileID, upload)
		}
	})
}

// blockingReader yields its bytes only once released.
type blockingReader struct {
	release chan struct{}
	r       io.Reader
}

func (b *blockingReader) Read(p []byte) (int, error) {
	<-b.release
	return b.r.Read(p)
}

// TestUploadClaimHoldsAcrossServers: two servers on one database (two
// Services here) never receive one upload at once, the claim being a
// conditional state change rather than memory; a failed upload gives the
// URL back, a completed one uses it up.
func TestUploadClaimHoldsAcrossServers(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	svc1, st1, _ := fileService(t, dir, clk, 0)
	defer st1.Close()
	svc2, st2, _ := fileService(t, dir, clk, 0)
	defer st2.Close()
	svc1.cfg.SharedStore, svc2.cfg.SharedStore = true, true // as on PostgreSQL
	ctx := context.Background()
	sess, tk := startUpload(t, svc1)
	tok := tokenOf(tk.URL)

	if _, err := svc2.ReceiveUpload(ctx, tk.AttachmentID, tok, "text/plain", bytes.NewReader([]byte("too long"))); err == nil {
		t.Fatal("an upload longer than declared was taken")
	}
	slow := &blockingReader{release: make(chan struct{}), r: bytes.NewReader([]byte("hello"))}
	done := make(chan error, 1)
	go func() {
		_, err := svc1.ReceiveUpload(ctx, tk.AttachmentID, tok, "text/plain", slow)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for f, _ := st2.File(ctx, tk.AttachmentID); f.State != store.FileReceiving; f, _ = st2.File(ctx, tk.AttachmentID) {
		if time.Now().After(deadline) {
			t.Fatalf("the file is %s while its bytes arrive, want RECEIVING", f.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := svc2.ReceiveUpload(ctx, tk.AttachmentID, tok, "text/plain", bytes.NewReader([]byte("hello")))
	if KindOf(err) != Conflict {
		t.Errorf("a second server receiving the same upload: %v, want Conflict", err)
	}
	if err := svc2.CompleteUpload(ctx, sess, tk.AttachmentID, "done-early", closedChan()); KindOf(err) != Conflict {
		t.Errorf("completing while the bytes arrive: %v, want Conflict", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("the first server's upload: %v", err)
	}
	_, err = svc2.ReceiveUpload(ctx, tk.AttachmentID, tok, "text/plain", bytes.NewReader([]byte("hello")))
	if KindOf(err) != AccessDenied {
		t.Errorf("the URL after a completed upload: %v, want AccessDenied", err)
	}
}

// TestUploadClaimOfACrashedProcessIsTakenOver: on a store this process
// owns alone, a file left RECEIVING by a process that died mid-upload is
// received again by the retry of its URL, not refused until it expires.
func TestUploadClaimOfACrashedProcessIsTakenOver(t *testing.T) {
	svc, st, _ := fileService(t, t.TempDir(), &clock{t: time.Now()}, 0)
	defer st.Close()
	ctx := context.Background()
	_, tk := startUpload(t, svc)
	// The claim of a PUT whose process was killed.
	if _, err := st.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{
		{ID: tk.AttachmentID, From: store.FilePending, To: store.FileReceiving, At: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatalf("the retry after a crash: %v", err)
	}
	if f, _ := st.File(ctx, tk.AttachmentID); f.State != store.FileUploaded {
		t.Errorf("the file is %s, want UPLOADED", f.State)
	}
}

// sharedUpload starts a chat on svc and an upload of "hello" to it.
func sharedUpload(t *testing.T, svc *Service) UploadTicket {
	t.Helper()
	_, tk := startUpload(t, svc)
	return tk
}

// startUpload starts a chat on svc and an upload of 5 bytes of text to it.
func startUpload(t *testing.T, svc *Service) (*Session, UploadTicket) {
	t.Helper()
	ctx := context.Background()
	chat, err := svc.StartChat(ctx, StartChatInput{InstanceID: "i", FlowID: "f", DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := svc.Connect(ctx, chat.ParticipantToken, false, true, false)
	sess, _ := svc.Authenticate(ctx, conn.ConnectionToken)
	tk, err := svc.StartUpload(ctx, sess, "notes.txt", "text/plain", 5, "c1")
	if err != nil {
		t.Fatal(err)
	}
	return sess, tk
}

// awaitState waits until the file is in state.
func awaitState(t *testing.T, st store.Store, id, state string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f, _ := st.File(context.Background(), id); f.State != state; f, _ = st.File(context.Background(), id) {
		if time.Now().After(deadline) {
			t.Fatalf("the file is %s, want %s", f.State, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUploadClaimOfADeadServerIsTakenOver: on a shared store (servers
// behind a balancer), a file left RECEIVING by a server that died
// mid-upload is refused to the retry of its URL only until the dead
// server's claim runs out, not until the URL expires.
func TestUploadClaimOfADeadServerIsTakenOver(t *testing.T) {
	clk := &clock{t: time.Now()}
	svc, st, _ := fileService(t, t.TempDir(), clk, 0)
	defer st.Close()
	svc.cfg.SharedStore = true
	ctx := context.Background()
	tk := sharedUpload(t, svc)
	// The claim of a PUT whose server was killed: never renewed.
	if _, err := st.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{{ID: tk.AttachmentID, From: store.FilePending,
		To: store.FileReceiving, Receiver: "dead", LeaseUntil: clk.Now().Add(svc.cfg.UploadLease), At: clk.Now()}}}); err != nil {
		t.Fatal(err)
	}
	clk.Add(svc.cfg.UploadLease - time.Second)
	_, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello")))
	if KindOf(err) != Conflict {
		t.Fatalf("the retry while the claim may be live: %v, want Conflict", err)
	}
	clk.Add(time.Second)
	if _, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello"))); err != nil {
		t.Fatalf("the retry once the dead server's claim ran out: %v", err)
	}
	if f, _ := st.File(ctx, tk.AttachmentID); f.State != store.FileUploaded {
		t.Errorf("the file is %s, want UPLOADED", f.State)
	}
}

// TestUploadClaimIsRenewedWhileReceiving: a server receiving a slow upload
// renews its claim, so that no other takes it over past the first lease.
func TestUploadClaimIsRenewedWhileReceiving(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	svc1, st1, _ := fileService(t, dir, clk, 0)
	defer st1.Close()
	svc2, st2, _ := fileService(t, dir, clk, 0)
	defer st2.Close()
	for _, svc := range []*Service{svc1, svc2} {
		svc.cfg.SharedStore, svc.cfg.UploadLease = true, 300*time.Millisecond
	}
	ctx := context.Background()
	tk := sharedUpload(t, svc1)
	slow := &blockingReader{release: make(chan struct{}), r: bytes.NewReader([]byte("hello"))}
	done := make(chan error, 1)
	go func() {
		_, err := svc1.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", slow)
		done <- err
	}()
	awaitState(t, st2, tk.AttachmentID, store.FileReceiving)
	// Past the first lease, within the renewed one: the ticks renew it
	// every 100 ms (of the real clock) for 300 ms of the test's.
	for range 4 {
		clk.Add(150 * time.Millisecond)
		time.Sleep(250 * time.Millisecond)
	}
	_, err := svc2.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello")))
	if KindOf(err) != Conflict {
		t.Errorf("another server's PUT while the first receives: %v, want Conflict", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("the receiving server's upload: %v", err)
	}
	if f, _ := st1.File(ctx, tk.AttachmentID); f.State != store.FileUploaded {
		t.Errorf("the file is %s, want UPLOADED", f.State)
	}
}

// interruptibleReader blocks until interrupted, as fileapi's bodies can be.
type interruptibleReader struct {
	once sync.Once
	stop chan struct{}
}

func (r *interruptibleReader) Read(p []byte) (int, error) {
	<-r.stop
	return 0, errors.New("interrupted")
}

func (r *interruptibleReader) Interrupt() { r.once.Do(func() { close(r.stop) }) }

// TestUploadWhoseClaimWasTakenOverRecordsNothing: a server cut off from the
// database for longer than its claim's lease finds, at its next renewal,
// the upload taken over by another: it stops receiving, answers Conflict,
// and neither records the file nor gives it back.
func TestUploadWhoseClaimWasTakenOverRecordsNothing(t *testing.T) {
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, 0)
	defer st.Close()
	svc.cfg.SharedStore, svc.cfg.UploadLease = true, 90*time.Millisecond
	ctx := context.Background()
	tk := sharedUpload(t, svc)
	body := &interruptibleReader{stop: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", body)
		done <- err
	}()
	awaitState(t, st, tk.AttachmentID, store.FileReceiving)
	if _, err := st.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{{ID: tk.AttachmentID, From: store.FileReceiving,
		To: store.FileReceiving, Receiver: "other", LeaseUntil: clk.Now().Add(time.Hour), At: clk.Now()}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if KindOf(err) != Conflict {
			t.Errorf("the PUT whose claim was taken over: %v, want Conflict", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the PUT whose claim was taken over goes on receiving")
	}
	// Still the other's: not given back, not recorded.
	if _, err := st.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{{ID: tk.AttachmentID, From: store.FileReceiving,
		To: store.FilePending, IfReceiver: "other", At: clk.Now()}}}); err != nil {
		t.Errorf("the file is no longer the other PUT's: %v", err)
	}
	if b, err := blobs.Open(ctx, tk.AttachmentID); err == nil {
		b.Close()
		t.Error("the PUT whose claim was taken over kept bytes")
	}
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// failingOpen is a blob store whose Open fails as a backend in trouble
// does (an S3 503), not as a missing blob.
type failingOpen struct{ blob.Store }

func (failingOpen) Open(context.Context, string) (blob.File, error) {
	return nil, errors.New("SlowDown: please reduce your request rate")
}

// TestUnreadableFileIsNotScanned: a file the store cannot open for its
// check is rejected as one that could not be scanned, not as missing.
func TestUnreadableFileIsNotScanned(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	svc, st, blobs := fileService(t, t.TempDir(), clk, 0)
	defer func() { svc.Close(); st.Close(); blobs.Close() }()
	sess, id := uploaded(t, svc)
	svc.cfg.Blobs = failingOpen{blobs}
	if err := svc.CompleteUpload(ctx, sess, id, "done", closedChan()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f, _ := st.File(ctx, id)
		if f.State == store.FileRejected {
			if f.Reason != ReasonNotScanned {
				t.Errorf("rejected for %q, want %q", f.Reason, ReasonNotScanned)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("file still %s", f.State)
		}
	}
}

// recordFault is a store that fails the change recording an upload as
// fault says: "committed", its answer is lost as when the connection drops
// during COMMIT (applied, an error all the same); "lost", not applied and
// the same error; "abandoned", the file was deleted as abandoned first.
type recordFault struct {
	store.Store
	fault string
}

var errConnLost = errors.New("postgres: commit: unexpected EOF")

func (r recordFault) Apply(ctx context.Context, c *store.Change) ([]store.Item, error) {
	if len(c.FileUpdates) != 1 || c.FileUpdates[0].To != store.FileUploaded {
		return r.Store.Apply(ctx, c)
	}
	switch r.fault {
	case "committed":
		if _, err := r.Store.Apply(ctx, c); err != nil {
			return nil, err
		}
		return nil, errConnLost
	case "lost":
		return nil, errConnLost
	}
	u := c.FileUpdates[0]
	if _, err := r.Store.Apply(ctx, &store.Change{FileUpdates: []store.FileUpdate{
		{ID: u.ID, From: store.FileReceiving, To: store.FileDeleted, Reason: ReasonAbandoned, At: u.At}}}); err != nil {
		return nil, err
	}
	return r.Store.Apply(ctx, c)
}

// TestUploadWhoseRecordFails: the bytes of an upload are deleted only when
// the database says no file refers to them. When its answer to the change
// that records the upload is lost, whether it committed is unknown: the
// file, read again, says. UPLOADED, the upload succeeded; still RECEIVING,
// the URL may be tried again and the bytes stay (the retry replaces them,
// or dropAbandoned deletes them). A file abandoned meanwhile refers to no
// bytes: they go.
func TestUploadWhoseRecordFails(t *testing.T) {
	for _, tc := range []struct {
		fault     string
		ok        bool
		state     string
		keepBytes bool
	}{
		{"committed", true, store.FileUploaded, true},
		{"lost", false, store.FilePending, true},
		{"abandoned", false, store.FileDeleted, false},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			dir := t.TempDir()
			st, err := sqlite.Open(filepath.Join(dir, "parley.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			blobs, err := blob.OpenLocal(filepath.Join(dir, "attachments"))
			if err != nil {
				t.Fatal(err)
			}
			svc := New(Config{InstanceID: "i", QueueID: "q", Blobs: blobs, SharedStore: true,
				WebsocketURL: func(string) string { return "" }, FileURL: func(id, tok string) string { return id + "?token=" + tok }},
				recordFault{Store: st, fault: tc.fault}, secret.Key{9}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			ctx := context.Background()
			_, tk := startUpload(t, svc)
			_, err = svc.ReceiveUpload(ctx, tk.AttachmentID, tokenOf(tk.URL), "text/plain", bytes.NewReader([]byte("hello")))
			if (err == nil) != tc.ok {
				t.Errorf("ReceiveUpload: %v, want success %v", err, tc.ok)
			}
			f, _ := st.File(ctx, tk.AttachmentID)
			if f.State != tc.state {
				t.Errorf("the file is %s, want %s", f.State, tc.state)
			}
			b, err := blobs.Open(ctx, tk.AttachmentID)
			if err == nil {
				b.Close()
			}
			if kept := err == nil; kept != tc.keepBytes {
				t.Errorf("the file is %s; its bytes kept: %v, want %v", f.State, kept, tc.keepBytes)
			}
		})
	}
}
