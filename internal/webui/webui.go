// Package webui serves Parley's web pages: the customer chat widget at /,
// the script that embeds it on another site, and the agent console at
// /agent. They are plain JavaScript and CSS, embedded in the binary, with
// no build step and nothing from a CDN, and they speak the participant API
// and websocket exactly as ChatJS does.
package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var files embed.FS

// pagePolicy keeps the pages to their own scripts and styles. The widget may
// be framed by any site (that is how it embeds); the console by none. Images
// may come from https URLs too: an operator's logo.
const pagePolicy = "default-src 'self'; img-src 'self' blob: data: https:; connect-src 'self' ws: wss:; " +
	"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// asset is one embedded file, ready to serve: its bytes, gzipped once at
// start-up, and an ETag of its content.
type asset struct {
	plain, gz   []byte
	etag, ctype string
}

// assets holds every file of static, by name.
var assets = func() map[string]*asset {
	out := map[string]*asset{}
	fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "static/")] = &asset{plain: b, gz: gz.Bytes(),
			etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, ctype: ctype}
		return nil
	})
	return out
}()

// GzipSize returns the gzipped size of a static file, 0 if there is none:
// what a browser transfers for it.
func GzipSize(name string) int {
	if a := assets[name]; a != nil {
		return len(a.gz)
	}
	return 0
}

// Register adds the pages to mux.
func Register(mux *http.ServeMux) {
	mux.Handle("GET /static/{name}", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, r.PathValue("name"))
	}), ""))
	mux.Handle("GET /{$}", page("widget.html", "frame-ancestors *"))
	mux.Handle("GET /agent", page("agent.html", "frame-ancestors 'none'"))
	mux.Handle("GET /embed.js", withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, "embed.js")
	}), ""))
}

// serve answers a static file: 304 for a current ETag, gzip for a browser
// that takes it. Browsers revalidate every time (no-cache), which costs a
// 304 and no bytes.
func serve(w http.ResponseWriter, r *http.Request, name string) {
	a := assets[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	body := a.plain
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// acceptsGzip reads Accept-Encoding (RFC 9110 §12.5.3): gzip is acceptable
// when its element's weight is above 0, whatever its spelling (q=0, Q=0.0,
// q=0.000); a weight that does not parse gets the plain bytes, which every
// client takes.
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "q") {
				q, err := strconv.ParseFloat(v, 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

func withHeaders(h http.Handler, frameAncestors string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		if frameAncestors != "" {
			w.Header().Set("Content-Security-Policy", pagePolicy+"; "+frameAncestors)
		}
		h.ServeHTTP(w, r)
	})
}

func page(name, frameAncestors string) http.Handler {
	return withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, name)
	}), frameAncestors)
}
