// Package webui serves Parley's web pages: the customer chat widget at /,
// the script that embeds it on another site, and the agent console at
// /agent. They are plain JavaScript and CSS, embedded in the binary, with
// no build step and nothing from a CDN, and they speak the participant API
// and websocket exactly as ChatJS does.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// pagePolicy keeps the pages to their own scripts and styles. The widget may
// be framed by any site (that is how it embeds); the console by none.
const pagePolicy = "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; " +
	"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// Register adds the pages to mux.
func Register(mux *http.ServeMux) {
	static, _ := fs.Sub(files, "static")
	assets := http.FileServerFS(static)
	mux.Handle("GET /static/", http.StripPrefix("/static/", withHeaders(assets, "")))
	mux.Handle("GET /{$}", page(static, "widget.html", "frame-ancestors *"))
	mux.Handle("GET /agent", page(static, "agent.html", "frame-ancestors 'none'"))
	mux.Handle("GET /embed.js", withHeaders(http.StripPrefix("/", assets), ""))
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

func page(static fs.FS, name, frameAncestors string) http.Handler {
	return withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, name)
	}), frameAncestors)
}
