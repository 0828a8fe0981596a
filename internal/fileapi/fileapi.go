// Package fileapi serves the URLs StartAttachmentUpload and GetAttachment
// hand out: the upload PUT, streamed to storage, and the download GET, with
// Range support and the headers that keep a hostile file from running in a
// browser. Both are authorised by their signed, expiring URL alone, as an S3
// presigned URL is, and allow any origin, since ChatJS fetches them from
// the customer's page.
package fileapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/parleychat/parley/internal/attach"
	"github.com/parleychat/parley/internal/awswire"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/netlimit"
)

// API serves attachment bytes.
type API struct {
	chat *chat.Service
	log  *slog.Logger
	cfg  Config
}

// Config bounds uploads.
type Config struct {
	// An upload must bring MinRate bytes a second, averaged over each
	// Window, or it is cut: a stalled client then neither holds its
	// connection nor keeps the URL claimed, and its retry can succeed.
	MinRate int64
	Window  time.Duration
}

// New returns the file endpoints.
func New(svc *chat.Service, log *slog.Logger, cfg Config) *API {
	return &API{chat: svc, log: log, cfg: cfg}
}

// Path is where the file endpoints live; FileURL builds on it.
const Path = "/attachments/"

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("PUT "+Path+"{id}", awswire.CORS(http.HandlerFunc(a.upload)))
	mux.Handle("GET "+Path+"{id}", awswire.CORS(http.HandlerFunc(a.download)))
	mux.Handle("OPTIONS "+Path+"{id}", awswire.CORS(http.NotFoundHandler()))
	mux.Handle("GET "+Path+"{id}/thumbnail", awswire.CORS(http.HandlerFunc(a.thumbnail)))
}

// fail answers as S3 would with a status, but in JSON with a message a
// person can read.
func (a *API) fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	msg := "An internal error occurred."
	var e *chat.Error
	if errors.Is(err, chat.ErrStorageFull) {
		status, msg = http.StatusInsufficientStorage, chat.ErrStorageFull.Message
	} else if errors.As(err, &e) {
		msg = e.Message
		status = map[chat.Kind]int{
			chat.Invalid: http.StatusBadRequest, chat.AccessDenied: http.StatusForbidden, chat.Ended: http.StatusForbidden,
			chat.Conflict: http.StatusConflict, chat.QuotaExceeded: http.StatusRequestEntityTooLarge, chat.NotFound: http.StatusNotFound,
		}[e.Kind]
	} else {
		a.log.Error("attachment request", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}

func (a *API) upload(w http.ResponseWriter, r *http.Request) {
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	r, err := netlimit.MinRate(w, r, a.cfg.MinRate, a.cfg.Window)
	if err != nil {
		a.fail(w, err)
		return
	}
	// ReceiveUpload checks the URL's token before it reads the body.
	sha, err := a.chat.ReceiveUpload(r.Context(), id, token, r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		if errors.Is(err, chat.ErrTooLarge) {
			w.Header().Set("Connection", "close") // stop reading the rest
		}
		a.fail(w, err)
		return
	}
	w.Header().Set("ETag", `"`+sha+`"`)
	w.WriteHeader(http.StatusOK)
}

func (a *API) download(w http.ResponseWriter, r *http.Request) {
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	d, err := a.chat.OpenDownload(r.Context(), id, token)
	if err != nil {
		a.fail(w, err)
		return
	}
	defer d.Blob.Close()
	w.Header().Set("Content-Disposition", attach.ContentDisposition(d.File.Name))
	serve(w, r, d, `"`+d.File.SHA256+`"`)
}

// thumbnail serves an image's preview, inline, for the web UI's <img>.
func (a *API) thumbnail(w http.ResponseWriter, r *http.Request) {
	d, err := a.chat.OpenThumbnail(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"))
	if err != nil {
		a.fail(w, err)
		return
	}
	defer d.Blob.Close()
	w.Header().Set("Content-Disposition", "inline")
	serve(w, r, d, `"thumb-`+d.File.SHA256+`"`)
}

// serve sends a file with the headers that keep it from running as a page.
func serve(w http.ResponseWriter, r *http.Request, d chat.Download, etag string) {
	h := w.Header()
	h.Set("Content-Type", d.File.ServeType)
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Length, Content-Type, ETag")
	// ServeContent handles Range, If-Range and If-None-Match against the ETag.
	var content io.ReadSeeker = d.Blob
	if f, ok := d.Blob.(interface{ OSFile() *os.File }); ok {
		content = f.OSFile() // sent with sendfile(2), not copied through user space
	}
	http.ServeContent(w, r, "", d.Blob.ModTime(), content)
}
