package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/coder/websocket"
)

// ServeBaseline runs the baselines the figures are compared with, as their
// own process like Parley: a bare PUT handler that streams into a temporary
// file and fsyncs it, http.ServeContent of such a file, and a bare relay
// (HTTP POST → memory → websocket) built on the same websocket library. It
// prints its address and serves until ctx ends.
func ServeBaseline(ctx context.Context, dir string, out io.Writer) error {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /upload/{name}", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.CreateTemp(dir, "upload-*")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, err = io.Copy(f, r.Body)
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err == nil {
			err = os.Rename(f.Name(), filepath.Join(dir, filepath.Base(r.PathValue("name"))))
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("GET /download/{name}", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(filepath.Join(dir, filepath.Base(r.PathValue("name"))))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		info, _ := f.Stat()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", info.ModTime(), f)
	})
	relay := &relay{subs: map[string][]*websocket.Conn{}}
	mux.HandleFunc("POST /relay/{chat}", relay.post)
	mux.HandleFunc("GET /relay/{chat}/ws", relay.subscribe)
	dlog, err := openDurableLog(ctx, dir)
	if err != nil {
		return err
	}
	mux.HandleFunc("POST /durable/{chat}", relay.durablePost(dlog))
	mux.HandleFunc("GET /durable/stats", dlog.serveStats)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// relay is the latency baseline: a message POSTed for a chat goes to the
// chat's websockets, from memory, with nothing stored.
type relay struct {
	mu   sync.Mutex
	subs map[string][]*websocket.Conn
}

func (rl *relay) post(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rl.mu.Lock()
	conns := rl.subs[r.PathValue("chat")]
	rl.mu.Unlock()
	for _, c := range conns {
		c.Write(r.Context(), websocket.MessageText, body)
	}
	w.Write([]byte("{}"))
}

func (rl *relay) subscribe(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	chat := r.PathValue("chat")
	rl.mu.Lock()
	rl.subs[chat] = append(rl.subs[chat], c)
	rl.mu.Unlock()
	<-c.CloseRead(context.Background()).Done() // until the client goes
}
