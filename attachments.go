package parley

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Progress is told how many bytes of total have gone so far.
type Progress func(done, total int64)

type startUploadOut struct {
	AttachmentId   string
	UploadMetadata struct {
		Url              string
		UrlExpiry        string
		HeadersToInclude map[string]string
	}
}

// TransferError is a failed upload or download of an attachment's bytes
// (the PUT or GET of the URL the service gave). ChatJS checks neither; this
// package does.
type TransferError struct {
	StatusCode int
	Body       string
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("parley: attachment transfer failed with HTTP %d: %s", e.StatusCode, e.Body)
}

// SendAttachmentInput is an attachment to send.
type SendAttachmentInput struct {
	Name        string    // the file name the others see
	ContentType string    // e.g. from TypeByName
	Body        io.Reader // Size bytes of it are sent
	Size        int64
	Progress    Progress // optional; never called once SendAttachment has returned
}

// SendAttachmentOutput is a sent attachment.
type SendAttachmentOutput struct {
	AttachmentID string
}

// SendAttachment uploads in.Size bytes from in.Body as an attachment. The
// three steps of the service (start, upload, complete) run in turn; the
// upload's status is checked, and cancelling ctx stops it, in which case
// the service keeps nothing. The verdict on the file arrives later, as an
// *AttachmentEvent.
func (s *Session) SendAttachment(ctx context.Context, in *SendAttachmentInput) (*SendAttachmentOutput, error) {
	var start startUploadOut
	req0 := map[string]any{"AttachmentName": in.Name, "ContentType": in.ContentType, "AttachmentSizeInBytes": in.Size, "ClientToken": newClientToken()}
	if err := s.call(ctx, "POST", "/participant/start-attachment-upload", s.connectionToken(), req0, &start); err != nil {
		return nil, err
	}
	// The transport may go on reading the body after Do returns (when the
	// answer comes first, or on cancellation): stopping it keeps Body and
	// Progress unused once SendAttachment has returned.
	body := &progressReader{r: io.LimitReader(in.Body, in.Size), total: in.Size, progress: in.Progress}
	defer body.stop()
	req, err := http.NewRequestWithContext(ctx, "PUT", start.UploadMetadata.Url, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = in.Size
	for k, v := range start.UploadMetadata.HeadersToInclude {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	body.stop()
	if err != nil {
		return nil, err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, &TransferError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
	}
	err = s.call(ctx, "POST", "/participant/complete-attachment-upload", s.connectionToken(),
		map[string]any{"AttachmentIds": []string{start.AttachmentId}, "ClientToken": newClientToken()}, nil)
	return &SendAttachmentOutput{AttachmentID: start.AttachmentId}, err
}

// SendFile sends the file at path, its type taken from its extension.
func (s *Session) SendFile(ctx context.Context, path string, progress Progress) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", err
	}
	out, err := s.SendAttachment(ctx, &SendAttachmentInput{Name: filepath.Base(path), ContentType: TypeByName(path),
		Body: f, Size: info.Size(), Progress: progress})
	if err != nil {
		return "", err
	}
	return out.AttachmentID, nil
}

// TypeByName guesses a content type from a file name's extension, falling
// back to application/octet-stream (the service then goes by the bytes).
func TypeByName(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		t, _, _ = mime.ParseMediaType(t)
		return t
	}
	return "application/octet-stream"
}

// progressReader tells progress (if not nil) of what is read. Once
// stopped, it reads no more and tells nothing.
type progressReader struct {
	r        io.Reader
	done     int64
	total    int64
	progress Progress

	mu      sync.Mutex
	stopped bool
}

var errStopped = errors.New("parley: the upload is over")

func (p *progressReader) Read(b []byte) (int, error) {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		return 0, errStopped
	}
	n, err := p.r.Read(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	if n > 0 && p.progress != nil && !p.stopped {
		p.progress(p.done, p.total)
	}
	return n, err
}

// stop returns once no Progress call is under way, and none follows.
func (p *progressReader) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

// AttachmentURL returns a download URL for an approved attachment, valid
// until the returned time (expiry: 5 s to 5 min; 0 means the service's
// default).
func (s *Session) AttachmentURL(ctx context.Context, attachmentID string, expiry time.Duration) (string, time.Time, int64, error) {
	in := map[string]any{"AttachmentId": attachmentID}
	if expiry > 0 {
		in["UrlExpiryInSeconds"] = int(expiry.Seconds())
	}
	var out struct {
		Url                   string
		UrlExpiry             string
		AttachmentSizeInBytes int64
	}
	if err := s.call(ctx, "POST", "/participant/attachment", s.connectionToken(), in, &out); err != nil {
		return "", time.Time{}, 0, err
	}
	return out.Url, parseTime(out.UrlExpiry), out.AttachmentSizeInBytes, nil
}

// FileInfo describes a downloaded attachment.
type FileInfo struct {
	Name        string // from Content-Disposition, "" if the server gave none
	ContentType string
	Size        int64
}

// DownloadAttachment opens an approved attachment. The caller reads and
// closes it; progress, if not nil, is told as the bytes arrive.
func (s *Session) DownloadAttachment(ctx context.Context, attachmentID string, progress Progress) (io.ReadCloser, FileInfo, error) {
	url, _, size, err := s.AttachmentURL(ctx, attachmentID, 0)
	if err != nil {
		return nil, FileInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, FileInfo{}, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, FileInfo{}, &TransferError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(msg))}
	}
	info := FileInfo{ContentType: resp.Header.Get("Content-Type"), Size: size}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		info.Name = params["filename"]
	}
	body := io.ReadCloser(resp.Body)
	if progress != nil {
		body = readCloser{&progressReader{r: resp.Body, total: size, progress: progress}, resp.Body}
	}
	return body, info, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
