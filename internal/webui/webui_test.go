package webui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// widgetFiles returns every static file the widget page loads: what its
// HTML links, and what its modules import, transitively.
func widgetFiles(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	ref := regexp.MustCompile(`(?:href|src)="/static/([^"]+)"|from "\./([^"]+)"`)
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		a := assets[name]
		if a == nil {
			t.Fatalf("the widget loads %s, which is not embedded", name)
		}
		seen[name] = true
		for _, m := range ref.FindAllStringSubmatch(string(a.plain), -1) {
			walk(m[1] + m[2])
		}
	}
	walk("widget.html")
	walk("embed.js") // on the host page
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	return out
}

// TestWidgetBudget: the widget, everything it loads, transfers at most 60 KB
// gzip-compressed.
func TestWidgetBudget(t *testing.T) {
	total := 0
	files := widgetFiles(t)
	for _, n := range files {
		total += GzipSize(n)
	}
	t.Logf("the widget transfers %d bytes gzipped in %d files %v", total, len(files), files)
	if total > 60<<10 {
		t.Errorf("the widget transfers %d bytes gzipped, over the budget of 60 KB", total)
	}
	if len(files) < 5 {
		t.Errorf("found only %v: the walk misses files", files)
	}
}

// TestStaticGzipAndETag: static files come gzipped to a browser that takes
// it, with an ETag that answers 304 when it matches.
func TestStaticGzipAndETag(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	get := func(path string, h map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, path := range []string{"/static/chatview.js", "/", "/agent", "/embed.js", "/static/style.css"} {
		resp := get(path, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %d, Content-Encoding %q", path, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b, err := io.ReadAll(zr); err != nil || len(b) == 0 {
			t.Fatalf("%s: the gzip body: %v", path, err)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", path)
		}
		if again := get(path, map[string]string{"If-None-Match": etag}); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, not 304", path, again.StatusCode)
		}
		if plain := get(path, nil); plain.Header.Get("Content-Encoding") != "" || plain.Header.Get("Content-Type") == "" {
			t.Errorf("%s without gzip: Content-Encoding %q, Content-Type %q", path, plain.Header.Get("Content-Encoding"), plain.Header.Get("Content-Type"))
		}
	}
	if resp := get("/static/nothing.js", nil); resp.StatusCode != 404 {
		t.Errorf("a missing file: %d", resp.StatusCode)
	}
}
