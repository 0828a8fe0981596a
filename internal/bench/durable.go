package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// durableLog is the durable baselines' store: an append-only file whose
// fsyncs are group-committed. A message is appended to the open batch; one
// goroutine writes a batch with one write and makes it durable with one
// fsync, and every message that arrived while that fsync ran forms the next
// batch. It is the least any durable server must do per message on this
// disk, with nothing else (no index, no per-chat order, no encoding).
type durableLog struct {
	f     *os.File
	mu    sync.Mutex
	open  *logBatch // accepting messages; nil when none wait
	ready chan struct{}
	err   error // the first write or fsync failure: every later append fails

	// What the committer did, for the figure's account of batching.
	batches, records, busyNS atomic.Int64
}

type logBatch struct {
	buf  []byte
	n    int // records
	done chan struct{}
}

// stats says what the committer has done so far.
func (l *durableLog) stats() commitStats {
	return commitStats{Batches: float64(l.batches.Load()), Items: float64(l.records.Load()),
		Seconds: time.Duration(l.busyNS.Load()).Seconds()}
}

// serveStats answers GET /durable/stats with stats, for the latency figure.
func (l *durableLog) serveStats(w http.ResponseWriter, _ *http.Request) {
	json.NewEncoder(w).Encode(l.stats())
}

func openDurableLog(ctx context.Context, dir string) (*durableLog, error) {
	f, err := os.OpenFile(filepath.Join(dir, "durable.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	l := &durableLog{f: f, ready: make(chan struct{}, 1)}
	go l.commit(ctx)
	return l, nil
}

// append adds one record (chat, body) and returns once it is on disk.
func (l *durableLog) append(chat string, body []byte) error {
	l.mu.Lock()
	if l.err != nil {
		err := l.err
		l.mu.Unlock()
		return err
	}
	b := l.open
	if b == nil {
		b = &logBatch{done: make(chan struct{})}
		l.open = b
	}
	b.buf = binary.AppendUvarint(b.buf, uint64(len(chat)))
	b.buf = append(b.buf, chat...)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(body)))
	b.buf = append(b.buf, body...)
	b.n++
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
	<-b.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// commit writes and fsyncs one batch at a time until ctx ends.
func (l *durableLog) commit(ctx context.Context) {
	defer l.f.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.ready:
		}
		l.mu.Lock()
		b := l.open
		l.open = nil
		l.mu.Unlock()
		if b == nil {
			continue
		}
		t0 := time.Now()
		_, err := l.f.Write(b.buf)
		if err == nil {
			err = l.f.Sync()
		}
		l.busyNS.Add(int64(time.Since(t0)))
		l.batches.Add(1)
		l.records.Add(int64(b.n))
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
		}
		close(b.done)
	}
}

// durablePost is the durable relay: the message is appended to the log,
// and once its fsync is done, acknowledged and sent to the chat's
// websockets (the bare relay's subscribers).
func (rl *relay) durablePost(log *durableLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		chat := r.PathValue("chat")
		if err := log.append(chat, body); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		rl.mu.Lock()
		conns := rl.subs[chat]
		rl.mu.Unlock()
		for _, c := range conns {
			c.Write(r.Context(), websocket.MessageText, body)
		}
		w.Write([]byte("{}"))
	}
}
