// Package sqlite is Parley's embedded storage backend: SQLite in WAL mode
// through the pure-Go modernc.org/sqlite driver.
//
// Writes go through one goroutine that commits whatever has queued up while
// the previous commit was being fsynced, so concurrent writers share fsyncs
// and throughput grows with load (group commit). A batch in which a change
// fails runs again with a savepoint per change, so that the change fails
// alone. Reads use a separate pool of connections, which WAL lets run beside
// the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/internal/store"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many changes share one transaction, so that one
// commit's latency stays bounded under heavy load.
const maxBatch = 512

// DB is the SQLite store.
type DB struct {
	w        *sql.DB // the single writer connection
	r        *sql.DB // readers
	ckpt     *sql.DB // the checkpointer's connection
	ckptDone chan struct{}
	hook     store.CommitHook
	reqs     chan *writeReq
	mu       sync.RWMutex // guards closed against sends on reqs
	closed   bool
	done     chan struct{}

	// Prepared statements by query text: compiling SQL was a third of the
	// CPU of a SendMessage before they were kept.
	rstmts sync.Map // on r

	walLong  atomic.Bool // the checkpointer found the WAL long: restartWAL
	observer atomic.Pointer[store.CommitObserver]

	// Owned by the writer goroutine.
	wtx *writeTx
	// streamed holds the contacts that may have an active stream (a
	// superset: stopping never removes one), so that committing an item
	// of any other contact costs no outbox query.
	streamed map[string]bool
}

func prepared(pool *sql.DB, cache *sync.Map, q string) (*sql.Stmt, error) {
	if st, ok := cache.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.Prepare(q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := cache.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// row runs a one-row read.
func (db *DB) row(ctx context.Context, q string, args ...any) rowScanner {
	st, err := prepared(db.r, &db.rstmts, q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// rows runs a read.
func (db *DB) rows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := prepared(db.r, &db.rstmts, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// writeTx is the writer's connection, on which it runs its transactions
// with BEGIN and COMMIT itself rather than through database/sql's Tx: a
// Tx watches its context on a goroutine of its own, so does every Rows
// read in it (one UPDATE … RETURNING per SendMessage), and tx.Stmt binds
// each statement to the transaction anew. The writer goroutine alone uses
// it, and only within the transaction it begins.
type writeTx struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt // prepared on conn, for its lifetime
}

// stmt returns the prepared statement for q.
func (tx *writeTx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[q]; ok {
		return st, nil
	}
	st, err := tx.conn.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	tx.stmts[q] = st
	return st, nil
}

// Query runs a read (or a statement with RETURNING) that has rows.
func (tx *writeTx) Query(q string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Query(args...)
}

// run executes a statement without arguments (BEGIN, COMMIT, a PRAGMA),
// prepared once like the rest: at the latency load nearly every message
// has a transaction of its own.
func (tx *writeTx) run(q string) error {
	st, err := tx.stmt(q)
	if err != nil {
		return err
	}
	_, err = st.Exec()
	return err
}

// Rollback ends the transaction without its changes. SQLite may have
// rolled it back itself already (after an I/O error), which is no error.
func (tx *writeTx) Rollback() { tx.run(`ROLLBACK`) }

func (tx *writeTx) close() error {
	for _, st := range tx.stmts {
		st.Close()
	}
	return tx.conn.Close()
}

// exec runs a statement in the writer's transaction.
func (db *DB) exec(tx *writeTx, q string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

// execOne runs a statement that must change a row; none is ErrNotFound.
func (db *DB) execOne(tx *writeTx, q string, args ...any) error {
	res, err := db.exec(tx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// txRow runs a one-row read in the writer's transaction.
func (db *DB) txRow(tx *writeTx, q string, args ...any) rowScanner {
	st, err := tx.stmt(q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRow(args...)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

var _ store.Store = (*DB)(nil)

type writeReq struct {
	ctx    context.Context
	change *store.Change
	prune  *store.Prune // instead of change
	pruned int
	claim  *claim // instead of change
	items  []store.Item
	err    error
	done   chan struct{}
}

// Open opens (creating if needed) the database file at path and migrates it.
// hook, if not nil, is called after each commit with the committed items.
func Open(path string, hook store.CommitHook) (*DB, error) {
	if hook == nil {
		hook = func([]store.Item) {}
	}
	if err := restrictMode(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Checkpoints run on their own connection (checkpointer), not inside
	// the writer's commits.
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")&_pragma=foreign_keys(ON)" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=wal_autocheckpoint(0)" +
		"&_pragma=journal_size_limit(67108864)&_pragma=secure_delete(ON)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	// A reading connection's page cache is emptied whenever it starts a
	// read after another connection committed (WAL mode), so it serves
	// only what one read transaction and the reads before the next commit
	// touch: SQLite's default of 2 MB each held 16 MB over the eight of
	// them after a quiet spell of reads (the idle benchmark's 10,000
	// websockets, each reading its chat), and saved no reads under load.
	// The temp database's cache (a sort's scratch b-trees) is bounded
	// likewise: it kept its 2 MB after the statement.
	kib := strconv.Itoa(readerCacheKiB)
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(ON)&_pragma=cache_size(-"+kib+")&_pragma=temp.cache_size(-"+kib+")")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db := &DB{w: w, r: r, hook: hook, reqs: make(chan *writeReq, maxBatch), done: make(chan struct{})}
	if err := db.migrate(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	db.streamed = map[string]bool{}
	rows, err := w.Query(`SELECT DISTINCT contact_id FROM streams WHERE stopped_at = 0`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		db.streamed[id] = true
	}
	rows.Close()
	conn, err := w.Conn(context.Background())
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	db.wtx = &writeTx{conn: conn, stmts: map[string]*sql.Stmt{}}
	ckpt, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	ckpt.SetMaxOpenConns(1)
	db.ckpt, db.ckptDone = ckpt, make(chan struct{})
	go db.writer()
	go db.checkpointer()
	return db, nil
}

// restrictMode makes the database readable by its owner only. SQLite
// creates a new database 0644 (less the umask), and its WAL and
// shared-memory files with the database's mode: so the database is created
// 0600 before SQLite opens it, and files left by an earlier version are
// narrowed to 0600.
func restrictMode(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// checkpointer copies the WAL into the database file in the background,
// every 200 ms while there are writes, so that commits only append to the
// WAL; and it makes the WAL start over once it is large (see checkpoint).
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-db.done:
			db.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
			db.ckpt.Close()
			return
		case <-t.C:
			db.checkpoint()
		}
	}
}

// busyTimeoutMS is how long a connection waits for a lock.
const busyTimeoutMS = 10_000

// readerCacheKiB is each reading connection's page cache, in KiB (the
// writer keeps SQLite's default of 2,000: its cache stays valid across its
// own commits).
const readerCacheKiB = 512

// walRestartFrames: a WAL this long starts over from its beginning.
const walRestartFrames = 4096 // 16 MB of 4 KB pages

// checkpoint copies what it can of the WAL into the database without
// holding up the writer (PASSIVE). Under a steady stream of commits that
// alone never lets the WAL start over, as new frames arrive while the old
// are copied; the WAL then grows without bound (1 GB in 15 s of the
// throughput bench), and appending to a growing file costs each commit
// about 40% more in writes and in fsync than overwriting one (BENCHMARKS.md).
// So once the WAL is long, it asks the writer to restart it between two
// batches (restartWAL): from the writer's own connection the RESTART
// checkpoint copies only what this pass missed and does not wait for a
// lock that the writer would hardly ever let go.
// Scrub makes deleted data unreadable from the files: deletes overwrite
// content with zeros (secure_delete), and this copies the WAL, which still
// holds earlier page images, into the database and truncates it. Erasure
// calls it; it waits for readers and writers in flight.
func (db *DB) Scrub(ctx context.Context) error {
	var busy, frames, copied int
	if err := db.ckpt.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("sqlite: the WAL could not be truncated: readers or a writer held it")
	}
	return nil
}

func (db *DB) checkpoint() {
	var busy, frames, copied int
	if err := db.ckpt.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return
	}
	if frames >= walRestartFrames {
		db.walLong.Store(true)
	}
}

// restartWAL, run by the writer between batches, copies the rest of a long
// WAL into the database so that the next commit writes the WAL from its
// start. A RESTART waits for readers still using the WAL; the writer must
// not, as a reader may itself be waiting for a write (or be slow), so it
// tries without a busy timeout and leaves the restart to a later batch if
// it is refused.
func (db *DB) restartWAL() {
	if db.walLong.Swap(false) {
		db.wtx.run(`PRAGMA busy_timeout = 0`)
		db.wtx.run(`PRAGMA wal_checkpoint(RESTART)`)
		db.wtx.run(`PRAGMA busy_timeout = ` + strconv.Itoa(busyTimeoutMS))
	}
}

func (db *DB) migrate() error {
	if _, err := db.w.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		var n int
		if err := db.w.QueryRow(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.w.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version) VALUES (?)`, version); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close waits for queued writes and closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	if !db.closed {
		db.closed = true
		close(db.reqs)
	}
	db.mu.Unlock()
	<-db.done
	<-db.ckptDone
	db.rstmts.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
	return errors.Join(db.w.Close(), db.r.Close())
}

var errClosed = errors.New("sqlite: store is closed")

// Observe has o told of every batch committed from now on.
func (db *DB) Observe(o store.CommitObserver) { db.observer.Store(&o) }

// Apply queues c for the next group commit and waits until it is durable.
func (db *DB) Apply(ctx context.Context, c *store.Change) ([]store.Item, error) {
	req := &writeReq{ctx: ctx, change: c, done: make(chan struct{})}
	return req.items, db.write(ctx, req)
}

// Prune deletes through the writer, in a batch like any change, so that it
// holds the write lock no longer than a bounded batch does.
func (db *DB) Prune(ctx context.Context, p store.Prune) (int, error) {
	req := &writeReq{ctx: ctx, prune: &p, done: make(chan struct{})}
	err := db.write(ctx, req)
	return req.pruned, err
}

// claim is a ClaimDue request and, once done, its answer.
type claim struct {
	now, until int64
	limit      int
	files      bool // ClaimFiles, not ClaimDue
	due        []store.Due
	ids        []string // the files claimed
}

// ClaimFiles claims through the writer, as ClaimDue does.
func (db *DB) ClaimFiles(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.File, error) {
	c := &claim{now: ms(now), until: ms(now.Add(lease)), limit: limit, files: true}
	if err := db.write(ctx, &writeReq{ctx: ctx, claim: c, done: make(chan struct{})}); err != nil {
		return nil, err
	}
	var out []store.File
	for _, id := range c.ids {
		f, err := db.File(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (db *DB) claimFilesTx(tx *writeTx, c *claim) error {
	c.ids = nil
	rows, err := tx.Query(`UPDATE files SET lease_until = ? WHERE id IN (
			SELECT id FROM files WHERE state = 'IN_PROGRESS' AND lease_until <= ? ORDER BY lease_until LIMIT ?)
		RETURNING id`, c.until, c.now, c.limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		c.ids = append(c.ids, id)
	}
	return rows.Err()
}

// ClaimDue claims through the writer: the single writer serialises claims
// with every change, so a deadline is never claimed twice at once.
func (db *DB) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Due, error) {
	c := &claim{now: ms(now), until: ms(now.Add(lease)), limit: limit}
	req := &writeReq{ctx: ctx, claim: c, done: make(chan struct{})}
	err := db.write(ctx, req)
	return c.due, err
}

// contactsDue appends to due, as deadlines of kind, the contacts q finds:
// each row an id and when it fell due.
func contactsDue(tx *writeTx, due []store.Due, kind, q string, args ...any) ([]store.Due, error) {
	rows, err := tx.Query(q, args...)
	if err != nil {
		return due, err
	}
	defer rows.Close()
	for rows.Next() {
		d := store.Due{Kind: kind}
		var at int64
		if err := rows.Scan(&d.ContactID, &at); err != nil {
			return due, err
		}
		d.At = fromMS(at)
		due = append(due, d)
	}
	return due, rows.Err()
}

func (db *DB) claimTx(tx *writeTx, c *claim) error {
	if c.files {
		return db.claimFilesTx(tx, c)
	}
	var err error
	c.due, err = contactsDue(tx, nil, store.DueExpiry, `SELECT id, deadline FROM contacts
		WHERE state != 'ENDED' AND deadline <= ? AND claimed_until <= ? ORDER BY deadline LIMIT ?`, c.now, c.now, c.limit)
	if err != nil {
		return err
	}
	// A chat whose customer never connected, unless its expiry is claimed
	// already: either ends it.
	c.due, err = contactsDue(tx, c.due, store.DueConnectBy, `SELECT id, connect_by FROM contacts
		WHERE connect_by > 0 AND connect_by <= ? AND state != 'ENDED' AND claimed_until <= ? AND deadline > ?
		ORDER BY connect_by LIMIT ?`, c.now, c.now, c.now, c.limit)
	if err != nil {
		return err
	}
	rows, err := tx.Query(`SELECT id, contact_id, idle_at, disconnect_at FROM participants
		WHERE ((idle_at > 0 AND idle_at <= ?) OR (disconnect_at > 0 AND disconnect_at <= ?)) AND state = ? AND claimed_until <= ?
		LIMIT ?`, c.now, c.now, store.ParticipantJoined, c.now, c.limit)
	if err != nil {
		return err
	}
	var ps []store.Due
	for rows.Next() {
		var d store.Due
		var idleAt, disconnectAt int64
		if err := rows.Scan(&d.ParticipantID, &d.ContactID, &idleAt, &disconnectAt); err != nil {
			rows.Close()
			return err
		}
		d.Kind, d.At = store.DueIdle, fromMS(idleAt)
		if idleAt == 0 || idleAt > c.now {
			d.Kind, d.At = store.DueDisconnect, fromMS(disconnectAt)
		}
		ps = append(ps, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range c.due {
		if _, err := db.exec(tx, `UPDATE contacts SET claimed_until = ? WHERE id = ?`, c.until, d.ContactID); err != nil {
			return err
		}
	}
	for _, d := range ps {
		if _, err := db.exec(tx, `UPDATE participants SET claimed_until = ? WHERE id = ?`, c.until, d.ParticipantID); err != nil {
			return err
		}
	}
	c.due = append(c.due, ps...)
	return nil
}

func (db *DB) write(ctx context.Context, req *writeReq) error {
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	<-req.done // not abandoned on ctx: the caller must learn whether it committed
	return req.err
}

func (db *DB) writer() {
	defer close(db.done)
	defer db.wtx.close()
	batch := make([]*writeReq, 0, maxBatch)
	for first := range db.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		db.commit(batch)
		db.restartWAL()
	}
}

func (db *DB) commit(batch []*writeReq) {
	// Most batches have no failing change, and run without a savepoint per
	// change; if one fails, the batch runs again with savepoints, so that it
	// fails alone.
	if db.tryCommit(batch, false) {
		return
	}
	db.tryCommit(batch, true)
}

// tryCommit runs batch in one transaction and reports whether it is done:
// false means a change failed without savepoints, and nothing was written.
func (db *DB) tryCommit(batch []*writeReq, savepoints bool) bool {
	fail := func(err error) bool {
		for _, r := range batch {
			if r.err == nil {
				r.err, r.items = err, nil
			}
			close(r.done)
		}
		return true
	}
	start := time.Now()
	tx := db.wtx
	if err := tx.run(`BEGIN IMMEDIATE`); err != nil {
		return fail(fmt.Errorf("sqlite: begin: %w", err))
	}
	for _, r := range batch {
		r.err, r.items, r.pruned = nil, nil, 0
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if savepoints {
			if _, err := db.exec(tx, `SAVEPOINT change`); err != nil {
				tx.Rollback()
				return fail(err)
			}
		}
		switch {
		case r.prune != nil:
			r.pruned, r.err = db.pruneTx(tx, r.prune)
		case r.claim != nil:
			r.err = db.claimTx(tx, r.claim)
		default:
			r.items, r.err = db.apply(tx, r.change)
		}
		if r.err == nil {
			if savepoints {
				if _, err := db.exec(tx, `RELEASE change`); err != nil {
					tx.Rollback()
					return fail(err)
				}
			}
			continue
		}
		r.items = nil
		if !savepoints {
			tx.Rollback()
			return false
		}
		if _, err := db.exec(tx, `ROLLBACK TO change`); err != nil {
			tx.Rollback()
			return fail(err)
		}
		if _, err := db.exec(tx, `RELEASE change`); err != nil {
			tx.Rollback()
			return fail(err)
		}
	}
	committing := time.Now()
	if err := tx.run(`COMMIT`); err != nil {
		tx.Rollback()
		return fail(fmt.Errorf("sqlite: commit: %w", err))
	}
	done := time.Now()
	var committed []store.Item
	for _, r := range batch {
		if r.err == nil {
			committed = append(committed, r.items...)
		}
	}
	if o := db.observer.Load(); o != nil {
		(*o)(len(batch), len(committed), done.Sub(start), done.Sub(committing))
	}
	if len(committed) > 0 {
		db.hook(committed)
	}
	for _, r := range batch {
		close(r.done)
	}
	return true
}

// setTimers applies a SetTimers, deciding from the participants joined
// now whether the timers are pending.
func (db *DB) setTimers(tx *writeTx, st *store.SetTimers) error {
	pending := len(st.PendingWhile) > 0
	for _, roles := range st.PendingWhile {
		args := []any{st.ContactID, store.ParticipantJoined}
		for _, r := range roles {
			args = append(args, r)
		}
		var n int
		if err := db.txRow(tx, `SELECT count(*) FROM participants WHERE contact_id = ? AND state = ? AND role IN (?`+
			strings.Repeat(", ?", len(roles)-1)+`)`, args...).Scan(&n); err != nil {
			return err
		}
		pending = pending && n > 0
	}
	t := st.Timers
	if t == nil {
		t = map[string]store.ParticipantTimers{}
	}
	q := `UPDATE contacts SET timers = ?, pending_timers = '' WHERE id = ?`
	if pending {
		q = `UPDATE contacts SET pending_timers = ? WHERE id = ?`
	}
	_, err := db.exec(tx, q, store.EncodeTimers(t), st.ContactID)
	return err
}

// expect checks a Change.Expect.
func (db *DB) expect(tx *writeTx, e *store.Expect) error {
	var contactID, role, state, timers string
	var idle bool
	var idleAt, disconnectAt int64
	err := db.txRow(tx, `SELECT p.contact_id, p.role, p.state, p.idle, p.idle_at, p.disconnect_at, c.timers
		FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.id = ?`, e.ParticipantID).
		Scan(&contactID, &role, &state, &idle, &idleAt, &disconnectAt, &timers)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrStale
	}
	if err != nil {
		return err
	}
	return store.CheckExpect(e, contactID, role, state, idle, fromMS(idleAt), fromMS(disconnectAt), timers)
}

func (db *DB) apply(tx *writeTx, c *store.Change) ([]store.Item, error) {
	fused := fusedActiveCheck(c)
	if c.RequireActive != "" && !fused {
		var state string
		err := db.txRow(tx, `SELECT state FROM contacts WHERE id = ?`, c.RequireActive).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if state == store.ContactEnded {
			return nil, store.ErrEnded
		}
	}
	if c.Expect != nil {
		if err := db.expect(tx, c.Expect); err != nil {
			return nil, err
		}
	}
	if pt := c.PromoteTimers; pt != nil {
		var timers, pending string
		if err := db.txRow(tx, `SELECT timers, pending_timers FROM contacts WHERE id = ?`, pt.ContactID).Scan(&timers, &pending); err != nil {
			return nil, notFound(err)
		}
		t, err := pt.Promote(timers, pending)
		if err != nil {
			return nil, err
		}
		if _, err := db.exec(tx, `UPDATE contacts SET timers = ?, pending_timers = '' WHERE id = ?`, t, pt.ContactID); err != nil {
			return nil, err
		}
	}
	if rc := c.RequireNoJoined; rc != nil && len(rc.Roles) > 0 {
		args := []any{rc.ContactID, store.ParticipantJoined}
		for _, r := range rc.Roles {
			args = append(args, r)
		}
		var n int
		if err := db.txRow(tx, `SELECT count(*) FROM participants WHERE contact_id = ? AND state = ? AND role IN (?`+
			strings.Repeat(", ?", len(rc.Roles)-1)+`)`, args...).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, store.ErrConflict
		}
	}
	if i := c.Idempotency; i != nil {
		res, err := db.exec(tx, `INSERT INTO idempotency (scope, client_token, response, created_at, contact_id) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, i.Scope, i.ClientToken, i.Response, time.Now().UnixMilli(), i.ContactID)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrDuplicate
		}
	}
	if q := c.QueueCeiling; q != nil {
		var n int
		// 'QUEUED' is written out, not bound: only then can SQLite use
		// the partial index rather than scan every contact ever kept.
		if err := db.txRow(tx, `SELECT COUNT(*) FROM contacts WHERE state = 'QUEUED' AND flow_id = ?`, q.FlowID).Scan(&n); err != nil {
			return nil, err
		}
		if n >= q.Max {
			return nil, store.ErrQueueFull
		}
	}
	if k := c.NewContact; k != nil {
		attrs, _ := json.Marshal(k.Attributes)
		types, _ := json.Marshal(k.ContentTypes)
		var customer, segments []byte
		if len(k.CustomerAttributes) > 0 {
			customer, _ = json.Marshal(k.CustomerAttributes)
		}
		if len(k.SegmentAttributes) > 0 {
			segments, _ = json.Marshal(k.SegmentAttributes)
		}
		if _, err := db.exec(tx, `INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state,
			attributes, content_types, agent_id, created_at, connected_at, ended_at, deadline, disconnect_reason, customer_attributes,
			related_contact_id, continued_from_id, rehydration_type, customer_id, segment_attributes, connect_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.InstanceID, k.InitialContactID, k.FlowID, k.QueueID, k.State, string(attrs), string(types),
			k.AgentID, ms(k.CreatedAt), ms(k.ConnectedAt), ms(k.EndedAt), ms(k.Deadline), k.DisconnectReason, string(customer),
			k.RelatedContactID, k.ContinuedFromID, k.RehydrationType, k.CustomerID, string(segments), ms(k.ConnectBy), ms(k.UpdatedAt)); err != nil {
			if isUniqueViolation(err) && k.ContinuedFromID != "" {
				return nil, store.ErrConflict // the source is continued already
			}
			return nil, err
		}
	}
	if p := c.Persist; p != nil {
		res, err := db.exec(tx, `UPDATE contacts SET related_contact_id = ?, continued_from_id = ?, rehydration_type = ?,
			updated_at = MAX(updated_at, ?) WHERE id = ? AND continued_from_id = ''`,
			p.SourceID, p.SourceID, p.RehydrationType, ms(p.At), p.ContactID)
		if err != nil && isUniqueViolation(err) {
			return nil, store.ErrConflict
		}
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			if err := db.txRow(tx, `SELECT 1 FROM contacts WHERE id = ?`, p.ContactID).Scan(&one); err != nil {
				return nil, notFound(err)
			}
			return nil, store.ErrConflict
		}
	}
	if q := c.Requeue; q != nil {
		res, err := db.exec(tx, `UPDATE contacts SET state = ?, agent_id = '', connected_at = 0, transfer_to = ?,
			updated_at = MAX(updated_at, ?), requeued_at = ? WHERE id = ? AND state = ?`,
			store.ContactQueued, q.TransferTo, ms(q.At), ms(q.At), q.ContactID, store.ContactConnected)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrConflict
		}
	}
	if id := c.AnnounceRehydration; id != "" {
		res, err := db.exec(tx, `UPDATE contacts SET rehydration_announced = 1 WHERE id = ? AND rehydration_announced = 0`, id)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrConflict
		}
	}
	for _, p := range c.NewParticipants {
		caps := ""
		if len(p.MonitorCapabilities) > 0 {
			caps = strings.Join(p.MonitorCapabilities, ",")
		}
		if _, err := db.exec(tx, `INSERT INTO participants (id, contact_id, role, display_name, token_hash, state, connected, joined_at, left_at, agent_id,
			monitor_capabilities, barged, idle, idle_at, disconnect_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, p.ContactID, p.Role, p.DisplayName, p.TokenHash, p.State, p.Connected, ms(p.JoinedAt), ms(p.LeftAt), p.AgentID,
			caps, p.Barged, p.Idle, ms(p.IdleAt), ms(p.DisconnectAt)); err != nil {
			return nil, err
		}
	}
	if id := c.Barge; id != "" {
		res, err := db.exec(tx, `UPDATE participants SET barged = 1 WHERE id = ? AND state = ? AND NOT barged`, id, store.ParticipantJoined)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrConflict
		}
	}
	if pt := c.ParticipantToken; pt != nil {
		if err := db.execOne(tx, `UPDATE participants SET token_hash = ? WHERE id = ?`, pt.TokenHash, pt.ParticipantID); err != nil {
			return nil, err
		}
	}
	if a := c.ConnectAgent; a != nil {
		res, err := db.exec(tx, `UPDATE contacts SET state = ?, agent_id = ?, connected_at = ?, transfer_to = ''
			WHERE id = ? AND state = ? AND (? = '' OR transfer_to = '' OR transfer_to = ?)`,
			store.ContactConnected, a.AgentID, ms(a.At), a.ContactID, store.ContactQueued, a.Console, a.Console)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 && a.Exclusive {
			return nil, store.ErrConflict
		}
	}
	for _, id := range c.Acknowledge {
		if _, err := db.exec(tx, `UPDATE participants SET connected = 1 WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	for _, k := range c.Clocks {
		q := `UPDATE participants SET idle = ?, idle_at = ?, disconnect_at = ?, claimed_until = 0 WHERE id = ?`
		args := []any{k.Idle, ms(k.IdleAt), ms(k.DisconnectAt), k.ParticipantID}
		if k.Conditional {
			q += ` AND state = ? AND idle_at = ? AND disconnect_at = ?`
			args = append(args, store.ParticipantJoined, ms(k.IfIdleAt), ms(k.IfDisconnectAt))
		}
		res, err := db.exec(tx, q, args...)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrConflict
		}
	}
	for _, l := range c.Leave {
		res, err := db.exec(tx, `UPDATE participants SET state = ?, left_at = ? WHERE id = ? AND state != ?`,
			store.ParticipantLeft, ms(l.At), l.ParticipantID, store.ParticipantLeft)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrEnded
		}
	}
	for _, t := range c.Tokens {
		if _, err := db.exec(tx, `INSERT INTO connection_tokens (hash, participant_id, expires_at) VALUES (?, ?, ?)`,
			t.Hash, t.ParticipantID, ms(t.Expires)); err != nil {
			return nil, err
		}
	}
	items := make([]store.Item, 0, len(c.Items))
	for i, it := range c.Items {
		// The chat's row gives the item its seq and time: one writer holds
		// it to commit, so seqs are gap-free and in commit order per chat,
		// and the time never goes back even if the clock does.
		var at int64
		var err error
		if fused && i == 0 {
			err = db.txRow(tx, `UPDATE contacts SET last_seq = last_seq + 1, last_at = MAX(last_at, ?) WHERE id = ? AND state != 'ENDED'
				RETURNING last_seq, last_at`, time.Now().UnixMilli(), it.ContactID).Scan(&it.Seq, &at)
			if errors.Is(err, sql.ErrNoRows) {
				var one int
				if err := db.txRow(tx, `SELECT 1 FROM contacts WHERE id = ?`, it.ContactID).Scan(&one); err != nil {
					return nil, notFound(err)
				}
				return nil, store.ErrEnded
			}
		} else {
			err = db.txRow(tx, `UPDATE contacts SET last_seq = last_seq + 1, last_at = MAX(last_at, ?) WHERE id = ?
				RETURNING last_seq, last_at`, time.Now().UnixMilli(), it.ContactID).Scan(&it.Seq, &at)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		it.Time = time.UnixMilli(at).UTC()
		var attachments, receipts string
		if len(it.Attachments) > 0 {
			b, _ := json.Marshal(it.Attachments)
			attachments = string(b)
		}
		if len(it.Receipts) > 0 {
			b, _ := json.Marshal(it.Receipts)
			receipts = string(b)
		}
		content := it.Content
		if !it.InTranscript {
			content = "" // delivered by the hook, never read back (store.Item)
		}
		_, err = db.exec(tx, `INSERT INTO items (contact_id, seq, id, participant_id, client_token, type, content_type, content,
			display_name, role, at, in_transcript, attachments, receipts, message_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			it.ContactID, it.Seq, it.ID, it.ParticipantID, it.ClientToken, it.Type, it.ContentType, content,
			it.DisplayName, it.Role, at, it.InTranscript, attachments, receipts, it.MessageID)
		if err != nil {
			if isUniqueViolation(err) && it.ClientToken != "" {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
		items = append(items, it)
	}
	if st := c.StartStream; st != nil {
		if _, err := db.exec(tx, `INSERT INTO streams (id, contact_id, endpoint_arn, started_at) VALUES (?, ?, ?, ?)`,
			st.ID, st.ContactID, st.EndpointARN, ms(st.StartedAt)); err != nil {
			return nil, err
		}
		if _, err := db.exec(tx, `UPDATE contacts SET active_streams = active_streams + 1 WHERE id = ?`, st.ContactID); err != nil {
			return nil, err
		}
		db.streamed[st.ContactID] = true
	}
	if st := c.StopStream; st != nil {
		var stopped int64
		if err := db.txRow(tx, `SELECT stopped_at FROM streams WHERE id = ? AND contact_id = ?`, st.StreamID, st.ContactID).Scan(&stopped); err != nil {
			return nil, notFound(err)
		}
		if stopped == 0 {
			if _, err := db.exec(tx, `UPDATE streams SET stopped_at = ? WHERE id = ?`, ms(st.At), st.StreamID); err != nil {
				return nil, err
			}
			if _, err := db.exec(tx, `UPDATE contacts SET active_streams = active_streams - 1 WHERE id = ?`, st.ContactID); err != nil {
				return nil, err
			}
		}
	}
	// Queue every item for the active streams of its contact, in this
	// transaction: what is committed is delivered, whatever crashes.
	for _, it := range items {
		if !db.streamed[it.ContactID] {
			continue
		}
		b, _ := json.Marshal(it)
		if _, err := db.exec(tx, `INSERT INTO stream_outbox (stream_id, contact_id, item, next_at, created_at)
			SELECT id, contact_id, ?, ?, ? FROM streams WHERE contact_id = ? AND stopped_at = 0`,
			string(b), ms(it.Time), ms(it.Time), it.ContactID); err != nil {
			return nil, err
		}
	}
	for _, id := range c.DeliveriesDone {
		if _, err := db.exec(tx, `DELETE FROM stream_outbox WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	for _, r := range c.DeliveryRetries {
		if _, err := db.exec(tx, `UPDATE stream_outbox SET attempts = ?, next_at = ? WHERE id = ?`, r.Attempts, ms(r.NextAt), r.ID); err != nil {
			return nil, err
		}
	}
	for _, rc := range c.Receipts {
		if _, err := db.exec(tx, `INSERT INTO receipts (message_id, recipient_id, contact_id, delivered_at, read_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (message_id, recipient_id) DO UPDATE SET
				delivered_at = CASE WHEN delivered_at = 0 THEN excluded.delivered_at ELSE delivered_at END,
				read_at = CASE WHEN read_at = 0 THEN excluded.read_at ELSE read_at END`,
			rc.MessageID, rc.RecipientID, rc.ContactID, ms(rc.Delivered), ms(rc.Read)); err != nil {
			return nil, err
		}
	}
	if m := c.Attributes; m != nil {
		var raw string
		err := db.txRow(tx, `SELECT attributes FROM contacts WHERE id = ?`, m.ContactID).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		attrs := map[string]string{}
		if err := json.Unmarshal([]byte(raw), &attrs); err != nil || attrs == nil {
			attrs = map[string]string{}
		}
		maps.Copy(attrs, m.Set)
		if store.AttributesSize(attrs) > m.MaxBytes {
			return nil, store.ErrTooLarge
		}
		b, _ := json.Marshal(attrs)
		if _, err := db.exec(tx, `UPDATE contacts SET attributes = ?, updated_at = MAX(updated_at, ?) WHERE id = ?`,
			string(b), ms(m.At), m.ContactID); err != nil {
			return nil, err
		}
	}
	if st := c.Timers; st != nil {
		if err := db.setTimers(tx, st); err != nil {
			return nil, err
		}
	}
	if f := c.NewFile; f != nil {
		if _, err := db.exec(tx, `INSERT INTO files (id, contact_id, participant_id, name, content_type, size, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.ContactID, f.ParticipantID, f.Name, f.ContentType, f.Size, f.State,
			ms(f.CreatedAt), ms(f.CreatedAt)); err != nil {
			return nil, err
		}
	}
	for _, u := range c.FileUpdates {
		res, err := db.exec(tx, `UPDATE files SET state = ?, updated_at = ?,
				sha256 = CASE WHEN ? != '' THEN ? ELSE sha256 END,
				serve_type = CASE WHEN ? != '' THEN ? ELSE serve_type END,
				reason = CASE WHEN ? != '' THEN ? ELSE reason END,
				item_id = CASE WHEN ? != '' THEN ? ELSE item_id END,
				lease_until = CASE WHEN ? > 0 THEN ? WHEN state = 'RECEIVING' AND ? <> 'RECEIVING' THEN 0 ELSE lease_until END,
				receiver = ?
			WHERE id = ? AND state = ? AND (? = '' OR receiver = ?) AND (NOT ? OR lease_until <= ?)`,
			u.To, ms(u.At), u.SHA256, u.SHA256, u.ServeType, u.ServeType, u.Reason, u.Reason, u.ItemID, u.ItemID,
			ms(u.LeaseUntil), ms(u.LeaseUntil), u.To, u.Receiver, u.ID, u.From, u.IfReceiver, u.IfReceiver, u.IfLeaseEnded, ms(u.At))
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrConflict
		}
	}
	for itemID, u := range c.ItemUpdates {
		b, _ := json.Marshal(u.Attachments)
		if _, err := db.exec(tx, `UPDATE items SET attachments = ?, content = ? WHERE id = ?`, string(b), u.Content, itemID); err != nil {
			return nil, err
		}
	}
	if fc := c.FilesConfig; fc != nil {
		exts, _ := json.Marshal(fc.Extensions)
		if _, err := db.exec(tx, `INSERT INTO attached_files_config (instance_id, scope, max_bytes, extensions, modified_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (instance_id, scope) DO UPDATE SET max_bytes = excluded.max_bytes, extensions = excluded.extensions,
				modified_at = excluded.modified_at`, fc.InstanceID, fc.Scope, fc.MaxBytes, string(exts), ms(fc.ModifiedAt)); err != nil {
			return nil, err
		}
	}
	if a := c.NewAgent; a != nil {
		if _, err := db.exec(tx, `INSERT INTO agents (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)`,
			a.ID, a.Name, a.KeyHash, ms(a.CreatedAt)); err != nil {
			if isUniqueViolation(err) {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
	}
	if name := c.RemoveAgent; name != "" {
		if err := db.execOne(tx, `DELETE FROM agents WHERE name = ?`, name); err != nil {
			return nil, err
		}
	}
	if k := c.AgentKey; k != nil {
		if err := db.execOne(tx, `UPDATE agents SET key_hash = ? WHERE name = ?`, k.KeyHash, k.Name); err != nil {
			return nil, err
		}
	}
	if st := c.AgentStatus; st != nil {
		if err := db.execOne(tx, `UPDATE agents SET status = ? WHERE id = ?`, st.Status, st.AgentID); err != nil {
			return nil, err
		}
	}
	if k := c.NewCanned; k != nil {
		if _, err := db.exec(tx, `INSERT INTO canned_responses (id, instance_id, shortcut, text, created_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.InstanceID, k.Shortcut, k.Text, ms(k.CreatedAt)); err != nil {
			if isUniqueViolation(err) {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
	}
	if k := c.RemoveCanned; k != nil {
		if err := db.execOne(tx, `DELETE FROM canned_responses WHERE instance_id = ? AND id = ?`, k.InstanceID, k.ID); err != nil {
			return nil, err
		}
	}
	if c.Subscribed != "" {
		if _, err := db.exec(tx, `UPDATE contacts SET connect_by = 0 WHERE id = ? AND connect_by > 0`, c.Subscribed); err != nil {
			return nil, err
		}
	}
	if e := c.End; e != nil {
		if e.OnlyNotConnected {
			var by int64
			if err := db.txRow(tx, `SELECT connect_by FROM contacts WHERE id = ?`, e.ContactID).Scan(&by); err != nil {
				return nil, notFound(err)
			}
			if by == 0 {
				return nil, store.ErrConflict
			}
		}
		if e.OnlyQueued {
			var state string
			if err := db.txRow(tx, `SELECT state FROM contacts WHERE id = ?`, e.ContactID).Scan(&state); err != nil {
				return nil, notFound(err)
			}
			if state != store.ContactQueued {
				return nil, store.ErrConflict
			}
		}
		res, err := db.exec(tx, `UPDATE contacts SET state = ?, ended_at = ?, disconnect_reason = ? WHERE id = ? AND state != ?`,
			store.ContactEnded, ms(e.At), e.Reason, e.ContactID, store.ContactEnded)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.ErrEnded
		}
		// An ended chat's participants have no timers left to run.
		if _, err := db.exec(tx, `UPDATE participants SET idle_at = 0, disconnect_at = 0 WHERE contact_id = ?
			AND (idle_at > 0 OR disconnect_at > 0)`, e.ContactID); err != nil {
			return nil, err
		}
	}
	if e := c.Erase; e != nil {
		if err := db.erase(tx, e); err != nil {
			return nil, err
		}
	}
	// The single writer serialises changes, so a count here sees every
	// change committed before this one and none after.
	for _, l := range c.Limits {
		q, ok := limitQueries[l.Count]
		if !ok {
			return nil, fmt.Errorf("sqlite: unknown limit %q", l.Count)
		}
		var n int
		if err := db.txRow(tx, q, l.Key).Scan(&n); err != nil {
			return nil, err
		}
		if n > l.Max {
			return nil, &store.LimitError{Limit: l, Found: n}
		}
	}
	return items, nil
}

// fusedActiveCheck reports whether c's RequireActive check can ride on the
// seq update of its first item (one statement instead of two, on every
// SendMessage): when the first item is in that chat and no statement runs
// before it, so that the change fails as it would have with the check first.
func fusedActiveCheck(c *store.Change) bool {
	if c.RequireActive == "" || len(c.Items) == 0 || c.Items[0].ContactID != c.RequireActive {
		return false
	}
	return len(c.Clocks) == 0 && c.RequireNoJoined == nil && c.PromoteTimers == nil && c.Idempotency == nil && c.QueueCeiling == nil && c.NewContact == nil &&
		c.Persist == nil && c.Requeue == nil && c.AnnounceRehydration == "" && len(c.NewParticipants) == 0 &&
		c.Barge == "" && c.ParticipantToken == nil && c.ConnectAgent == nil && len(c.Acknowledge) == 0 &&
		len(c.Leave) == 0 && len(c.Tokens) == 0
}

// erase deletes a contact's rows, children first, and records the
// tombstone.
func (db *DB) erase(tx *writeTx, e *store.Tombstone) error {
	var n int
	if err := db.txRow(tx, `SELECT COUNT(*) FROM contacts WHERE id = ?`, e.ContactID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if err := db.txRow(tx, `SELECT COUNT(*) FROM erasures WHERE contact_id = ?`, e.ContactID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil // erased already
	}
	for _, q := range []string{
		`DELETE FROM receipts WHERE contact_id = ?1`,
		`DELETE FROM items WHERE contact_id = ?1`,
		`DELETE FROM stream_outbox WHERE contact_id = ?1`,
		`DELETE FROM streams WHERE contact_id = ?1`,
		`DELETE FROM files WHERE contact_id = ?1`,
		`DELETE FROM connection_tokens WHERE participant_id IN (SELECT id FROM participants WHERE contact_id = ?1)`,
		// Records made before they named their contact are found by the
		// participant or contact their scope names.
		`DELETE FROM idempotency WHERE contact_id = ?1 OR scope = 'add-participant:' || ?1
			OR scope IN (SELECT p || id FROM participants, (SELECT 'start-upload:' AS p UNION ALL SELECT 'complete-upload:') WHERE contact_id = ?1)`,
		`DELETE FROM participants WHERE contact_id = ?1`,
		`DELETE FROM contacts WHERE id = ?1`,
	} {
		if _, err := db.exec(tx, q, e.ContactID); err != nil {
			return err
		}
	}
	_, err := db.exec(tx, `INSERT INTO erasures (contact_id, erased_at, reason) VALUES (?, ?, ?)`, e.ContactID, ms(e.At), e.Reason)
	return err
}

func (db *DB) Tombstone(ctx context.Context, contactID string) (store.Tombstone, error) {
	t := store.Tombstone{ContactID: contactID}
	var at int64
	err := db.row(ctx, `SELECT erased_at, reason FROM erasures WHERE contact_id = ?`, contactID).Scan(&at, &t.Reason)
	t.At = time.UnixMilli(at)
	return t, notFound(err)
}

// limitQueries count what a store.Limit bounds, for its Key.
var limitQueries = map[string]string{
	store.CountFiles:        `SELECT COUNT(*) FROM files WHERE contact_id = ? AND state != '` + store.FileRejected + `'`,
	store.CountParticipants: `SELECT COUNT(*) FROM participants WHERE contact_id = ? AND state = '` + store.ParticipantJoined + `'`,
	store.CountAgentChats: `SELECT COUNT(*) FROM participants WHERE agent_id = ? AND state = '` + store.ParticipantJoined + `'
		AND role != 'SUPERVISOR' AND contact_id IN (SELECT id FROM contacts WHERE state != '` + store.ContactEnded + `')`,
	store.CountAgentAway: `SELECT COUNT(*) FROM agents WHERE id = ? AND status = '` + store.AgentAway + `'`,
}

// pruneQueries delete up to a limit of rows older than a time. Items go
// by rowid: seq is a position within a chat. Chats keep their counters
// (contacts.last_seq), so deleting a chat's newest item takes no seq back.
var pruneQueries = []string{
	`DELETE FROM connection_tokens WHERE hash IN (SELECT hash FROM connection_tokens WHERE expires_at < ? LIMIT ?)`,
	`DELETE FROM idempotency WHERE (scope, client_token) IN
		(SELECT scope, client_token FROM idempotency WHERE created_at < ? LIMIT ?)`,
	`DELETE FROM items WHERE rowid IN (SELECT rowid FROM items WHERE NOT in_transcript AND at < ? LIMIT ?)`,
}

func (db *DB) pruneTx(tx *writeTx, p *store.Prune) (int, error) {
	n := 0
	for i, before := range []time.Time{p.TokensExpiredBefore, p.IdempotencyBefore, p.EphemeralBefore} {
		if before.IsZero() {
			continue
		}
		res, err := db.exec(tx, pruneQueries[i], before.UnixMilli(), p.Limit)
		if err != nil {
			return 0, err
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// isUniqueViolation recognises a unique or primary key violation by its
// extended result code: messages are not a contract.
func isUniqueViolation(err error) bool {
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

const contactCols = `id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, agent_id,
	created_at, connected_at, ended_at, deadline, disconnect_reason, timers, customer_attributes,
	related_contact_id, continued_from_id, rehydration_type, rehydration_announced, transfer_to, customer_id, segment_attributes,
	connect_by, updated_at, pending_timers, requeued_at`

func scanContact(row rowScanner) (store.Contact, error) {
	var c store.Contact
	var attrs, types, timers, customer, segments, pending string
	var created, connected, ended, deadline, connectBy, updated, requeued int64
	if err := row.Scan(&c.ID, &c.InstanceID, &c.InitialContactID, &c.FlowID, &c.QueueID, &c.State, &attrs, &types,
		&c.AgentID, &created, &connected, &ended, &deadline, &c.DisconnectReason, &timers, &customer,
		&c.RelatedContactID, &c.ContinuedFromID, &c.RehydrationType, &c.RehydrationAnnounced, &c.TransferTo,
		&c.CustomerID, &segments, &connectBy, &updated, &pending, &requeued); err != nil {
		return c, notFound(err)
	}
	var err error
	if c.PendingTimers, err = store.DecodeTimers(pending); err != nil {
		return c, err
	}
	if customer != "" {
		if err := json.Unmarshal([]byte(customer), &c.CustomerAttributes); err != nil {
			return c, err
		}
	}
	if segments != "" {
		if err := json.Unmarshal([]byte(segments), &c.SegmentAttributes); err != nil {
			return c, err
		}
	}
	if timers != "" {
		if err := json.Unmarshal([]byte(timers), &c.Timers); err != nil {
			return c, err
		}
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(types), &c.ContentTypes); err != nil {
		return c, err
	}
	c.CreatedAt, c.ConnectedAt, c.EndedAt, c.Deadline = fromMS(created), fromMS(connected), fromMS(ended), fromMS(deadline)
	c.ConnectBy, c.UpdatedAt, c.RequeuedAt = fromMS(connectBy), fromMS(updated), fromMS(requeued)
	return c, nil
}

func (db *DB) Contact(ctx context.Context, id string) (store.Contact, error) {
	return scanContact(db.row(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = ?`, id))
}

func (db *DB) ActiveContacts(ctx context.Context) iter.Seq2[store.Contact, error] {
	return func(yield func(store.Contact, error) bool) {
		rows, err := db.rows(ctx, `SELECT `+contactCols+` FROM contacts WHERE state != ?`, store.ContactEnded)
		if err != nil {
			yield(store.Contact{}, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			if !yield(scanContact(rows)) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.Contact{}, err)
		}
	}
}

func (db *DB) Idempotency(ctx context.Context, scope, clientToken string) ([]byte, error) {
	var b []byte
	err := db.row(ctx, `SELECT response FROM idempotency WHERE scope = ? AND client_token = ?`, scope, clientToken).Scan(&b)
	return b, notFound(err)
}

const participantCols = `id, contact_id, role, display_name, token_hash, state, connected, joined_at, left_at, agent_id,
	monitor_capabilities, barged, idle, idle_at, disconnect_at`

func scanParticipant(row rowScanner) (store.Participant, error) {
	var p store.Participant
	var joined, left, idleAt, disconnectAt int64
	var caps string
	err := row.Scan(&p.ID, &p.ContactID, &p.Role, &p.DisplayName, &p.TokenHash, &p.State, &p.Connected, &joined, &left, &p.AgentID,
		&caps, &p.Barged, &p.Idle, &idleAt, &disconnectAt)
	p.JoinedAt, p.LeftAt, p.IdleAt, p.DisconnectAt = fromMS(joined), fromMS(left), fromMS(idleAt), fromMS(disconnectAt)
	if caps != "" {
		p.MonitorCapabilities = strings.Split(caps, ",")
	}
	return p, notFound(err)
}

func (db *DB) Participant(ctx context.Context, id string) (store.Participant, error) {
	return scanParticipant(db.row(ctx, `SELECT `+participantCols+` FROM participants WHERE id = ?`, id))
}

// Session reads the two rows apart: SQLite answers in-process, where a join
// saves nothing.
func (db *DB) Session(ctx context.Context, participantID string) (store.Participant, store.Contact, error) {
	p, err := db.Participant(ctx, participantID)
	if err != nil {
		return p, store.Contact{}, err
	}
	c, err := db.Contact(ctx, p.ContactID)
	return p, c, err
}

func (db *DB) ParticipantByToken(ctx context.Context, tokenHash string) (store.Participant, error) {
	return scanParticipant(db.row(ctx, `SELECT `+participantCols+` FROM participants WHERE token_hash = ?`, tokenHash))
}

func (db *DB) Participants(ctx context.Context, contactID string) ([]store.Participant, error) {
	return db.queryParticipants(ctx, `SELECT `+participantCols+` FROM participants WHERE contact_id = ? ORDER BY joined_at, id`, contactID)
}

func (db *DB) AgentParticipants(ctx context.Context, agentID string) ([]store.Participant, error) {
	return db.queryParticipants(ctx, `SELECT `+participantCols+` FROM participants WHERE agent_id = ? AND state = ?
		AND contact_id IN (SELECT id FROM contacts WHERE state != ?) ORDER BY joined_at`, agentID, store.ParticipantJoined, store.ContactEnded)
}

func (db *DB) queryParticipants(ctx context.Context, q string, args ...any) ([]store.Participant, error) {
	rows, err := db.rows(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []store.Participant
	for rows.Next() {
		p, err := scanParticipant(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

func (db *DB) ConnectionToken(ctx context.Context, hash string) (store.ConnectionToken, error) {
	t := store.ConnectionToken{Hash: hash}
	var exp int64
	err := db.row(ctx, `SELECT participant_id, expires_at FROM connection_tokens WHERE hash = ?`, hash).Scan(&t.ParticipantID, &exp)
	t.Expires = fromMS(exp)
	return t, notFound(err)
}

const itemCols = `seq, id, contact_id, participant_id, client_token, type, content_type, content, display_name, role, at,
	in_transcript, attachments, receipts, message_id`

func scanItem(row rowScanner) (store.Item, error) {
	var it store.Item
	var at int64
	var attachments, receipts string
	if err := row.Scan(&it.Seq, &it.ID, &it.ContactID, &it.ParticipantID, &it.ClientToken, &it.Type, &it.ContentType,
		&it.Content, &it.DisplayName, &it.Role, &at, &it.InTranscript, &attachments, &receipts, &it.MessageID); err != nil {
		return it, notFound(err)
	}
	it.Time = fromMS(at)
	if attachments != "" {
		if err := json.Unmarshal([]byte(attachments), &it.Attachments); err != nil {
			return it, err
		}
	}
	if receipts != "" {
		if err := json.Unmarshal([]byte(receipts), &it.Receipts); err != nil {
			return it, err
		}
	}
	return it, nil
}

func (db *DB) Item(ctx context.Context, contactID, id string) (store.Item, error) {
	return scanItem(db.row(ctx, `SELECT `+itemCols+` FROM items WHERE id = ? AND contact_id = ?`, id, contactID))
}

func (db *DB) ItemByClientToken(ctx context.Context, participantID, clientToken string) (store.Item, error) {
	// "client_token != ''" lets SQLite use the partial index, which holds
	// only items with a token; without it every lookup scans the table.
	return scanItem(db.row(ctx, `SELECT `+itemCols+` FROM items
		WHERE participant_id = ? AND client_token = ? AND client_token != ''`, participantID, clientToken))
}

func (db *DB) Transcript(ctx context.Context, contactID string, from int64, forward bool, limit int) ([]store.Item, error) {
	q := `SELECT ` + itemCols + ` FROM items WHERE contact_id = ? AND in_transcript AND seq <= ? ORDER BY seq DESC LIMIT ?`
	if forward {
		q = `SELECT ` + itemCols + ` FROM items WHERE contact_id = ? AND in_transcript AND seq >= ? ORDER BY seq ASC LIMIT ?`
	}
	rows, err := db.rows(ctx, q, contactID, from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []store.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

func (db *DB) ItemsFrom(ctx context.Context, contactID string, from int64, limit int) ([]store.Item, error) {
	rows, err := db.rows(ctx, `SELECT `+itemCols+` FROM items WHERE contact_id = ? AND seq >= ? ORDER BY seq LIMIT ?`, contactID, from, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []store.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

func (db *DB) LastSeqs(ctx context.Context, contactIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(contactIDs))
	for _, id := range contactIDs {
		var seq int64
		err := db.row(ctx, `SELECT last_seq FROM contacts WHERE id = ?`, id).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, nil
}

func (db *DB) TranscriptSeqAt(ctx context.Context, contactID string, t time.Time, forward bool) (int64, error) {
	// at rises with seq, so the first match in seq order is the answer.
	q := `SELECT seq FROM items WHERE contact_id = ? AND in_transcript AND at <= ? ORDER BY seq DESC LIMIT 1`
	if forward {
		q = `SELECT seq FROM items WHERE contact_id = ? AND in_transcript AND at >= ? ORDER BY seq ASC LIMIT 1`
	}
	var seq int64
	err := db.row(ctx, q, contactID, t.UnixMilli()).Scan(&seq)
	return seq, notFound(err)
}

func (db *DB) TranscriptNewest(ctx context.Context, contactID string, n int) (int64, error) {
	var seq int64
	err := db.row(ctx, `SELECT COALESCE(MIN(seq), 0) FROM (SELECT seq FROM items WHERE contact_id = ? AND in_transcript
		ORDER BY seq DESC LIMIT ?)`, contactID, max(n, 1)).Scan(&seq)
	if err == nil && seq == 0 {
		return 0, store.ErrNotFound
	}
	return seq, notFound(err)
}

func (db *DB) Receipts(ctx context.Context, messageIDs []string) (map[string][]store.Receipt, error) {
	out := make(map[string][]store.Receipt)
	if len(messageIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(messageIDs))
	for i, id := range messageIDs {
		args[i] = id
	}
	rows, err := db.rows(ctx, `SELECT message_id, recipient_id, contact_id, delivered_at, read_at FROM receipts
		WHERE message_id IN (?`+strings.Repeat(",?", len(args)-1)+`) ORDER BY message_id, recipient_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var rc store.Receipt
		var delivered, read int64
		if err := rows.Scan(&rc.MessageID, &rc.RecipientID, &rc.ContactID, &delivered, &read); err != nil {
			return nil, err
		}
		rc.Delivered, rc.Read = fromMS(delivered), fromMS(read)
		out[rc.MessageID] = append(out[rc.MessageID], rc)
	}
	return out, rows.Err()
}

const fileCols = `id, contact_id, participant_id, name, content_type, size, state, sha256, serve_type, reason, item_id,
	created_at, updated_at`

func scanFile(row rowScanner) (store.File, error) {
	var f store.File
	var created, updated int64
	err := row.Scan(&f.ID, &f.ContactID, &f.ParticipantID, &f.Name, &f.ContentType, &f.Size, &f.State, &f.SHA256,
		&f.ServeType, &f.Reason, &f.ItemID, &created, &updated)
	f.CreatedAt, f.UpdatedAt = fromMS(created), fromMS(updated)
	return f, notFound(err)
}

func (db *DB) queryFiles(ctx context.Context, q string, args ...any) ([]store.File, error) {
	rows, err := db.rows(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []store.File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

func (db *DB) File(ctx context.Context, id string) (store.File, error) {
	return scanFile(db.row(ctx, `SELECT `+fileCols+` FROM files WHERE id = ?`, id))
}

func (db *DB) CountFiles(ctx context.Context, contactID string) (int, error) {
	var n int
	err := db.row(ctx, `SELECT COUNT(*) FROM files WHERE contact_id = ? AND state != ?`, contactID, store.FileRejected).Scan(&n)
	return n, err
}

func (db *DB) UnfinishedFiles(ctx context.Context) ([]store.File, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM files WHERE state IN (?, ?) ORDER BY created_at`, store.FileUploaded, store.FileInProgress)
}

func (db *DB) ExpiredFiles(ctx context.Context, endedBefore time.Time, limit int) ([]store.File, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM files WHERE state != ? AND contact_id IN
		(SELECT id FROM contacts WHERE state = ? AND ended_at < ?) LIMIT ?`,
		store.FileDeleted, store.ContactEnded, endedBefore.UnixMilli(), limit)
}

func (db *DB) AbandonedFiles(ctx context.Context, createdBefore time.Time, limit int) ([]store.File, error) {
	// The literal states let SQLite use the partial index files_abandoned.
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM files WHERE state IN ('PENDING', 'RECEIVING', 'UPLOADED') AND created_at < ?
		ORDER BY created_at LIMIT ?`, createdBefore.UnixMilli(), limit)
}

func (db *DB) Files(ctx context.Context, contactID string) ([]store.File, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM files WHERE contact_id = ? ORDER BY created_at, id`, contactID)
}

func (db *DB) EndedContacts(ctx context.Context, after, before time.Time) ([]string, error) {
	rows, err := db.rows(ctx, `SELECT id FROM contacts WHERE state = ? AND ended_at >= ? AND ended_at < ? ORDER BY ended_at, id`,
		store.ContactEnded, after.UnixMilli(), before.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (db *DB) FilesConfig(ctx context.Context, instanceID, scope string) (store.FilesConfig, error) {
	fc := store.FilesConfig{InstanceID: instanceID, Scope: scope}
	var exts string
	var modified int64
	err := db.row(ctx, `SELECT max_bytes, extensions, modified_at FROM attached_files_config
		WHERE instance_id = ? AND scope = ?`, instanceID, scope).Scan(&fc.MaxBytes, &exts, &modified)
	if err != nil {
		return fc, notFound(err)
	}
	fc.ModifiedAt = fromMS(modified)
	return fc, json.Unmarshal([]byte(exts), &fc.Extensions)
}

func (db *DB) AgentByKey(ctx context.Context, keyHash string) (store.Agent, error) {
	var a store.Agent
	var created int64
	err := db.row(ctx, `SELECT id, name, key_hash, created_at, status FROM agents WHERE key_hash = ?`, keyHash).
		Scan(&a.ID, &a.Name, &a.KeyHash, &created, &a.Status)
	a.CreatedAt = fromMS(created)
	return a, notFound(err)
}

func (db *DB) Agents(ctx context.Context) ([]store.Agent, error) {
	rows, err := db.rows(ctx, `SELECT id, name, key_hash, created_at, status FROM agents ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []store.Agent
	for rows.Next() {
		var a store.Agent
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.KeyHash, &created, &a.Status); err != nil {
			return nil, err
		}
		a.CreatedAt = fromMS(created)
		as = append(as, a)
	}
	return as, rows.Err()
}

func (db *DB) QueuedContacts(ctx context.Context, q store.QueueQuery) ([]store.Contact, error) {
	// (created_at, id) orders the queue totally, so a page continues
	// exactly after the last contact of the one before.
	// state is a literal so that the partial index contacts_queued serves.
	rows, err := db.rows(ctx, `SELECT `+contactCols+` FROM contacts WHERE state = 'QUEUED' AND (? = '' OR flow_id = ?)
		AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?`,
		q.FlowID, q.FlowID, ms(q.AfterCreated), ms(q.AfterCreated), q.AfterID, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []store.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func (db *DB) CountQueued(ctx context.Context, flowID string) (int, error) {
	var n int
	err := db.row(ctx, `SELECT COUNT(*) FROM contacts WHERE state = 'QUEUED' AND (? = '' OR flow_id = ?)`, flowID, flowID).Scan(&n)
	return n, err
}

func (db *DB) Streams(ctx context.Context, contactID string) ([]store.Stream, error) {
	rows, err := db.rows(ctx, `SELECT id, contact_id, endpoint_arn, started_at, stopped_at FROM streams
		WHERE contact_id = ? ORDER BY started_at, id`, contactID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Stream
	for rows.Next() {
		var st store.Stream
		var started, stopped int64
		if err := rows.Scan(&st.ID, &st.ContactID, &st.EndpointARN, &started, &stopped); err != nil {
			return nil, err
		}
		st.StartedAt, st.StoppedAt = fromMS(started), fromMS(stopped)
		out = append(out, st)
	}
	return out, rows.Err()
}

func (db *DB) Deliveries(ctx context.Context, limit int) ([]store.Delivery, error) {
	rows, err := db.rows(ctx, `SELECT o.id, o.stream_id, o.contact_id, s.endpoint_arn, o.item, o.attempts, o.next_at, o.created_at
		FROM stream_outbox o JOIN streams s ON s.id = o.stream_id ORDER BY o.id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var item string
		var next, created int64
		if err := rows.Scan(&d.ID, &d.StreamID, &d.ContactID, &d.EndpointARN, &item, &d.Attempts, &next, &created); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(item), &d.Item); err != nil {
			return nil, err
		}
		d.NextAt, d.CreatedAt = fromMS(next), fromMS(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (db *DB) CannedResponses(ctx context.Context, instanceID string) ([]store.Canned, error) {
	rows, err := db.rows(ctx, `SELECT id, instance_id, shortcut, text, created_at FROM canned_responses
		WHERE instance_id = ? ORDER BY shortcut`, instanceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Canned
	for rows.Next() {
		var c store.Canned
		var created int64
		if err := rows.Scan(&c.ID, &c.InstanceID, &c.Shortcut, &c.Text, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = fromMS(created)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (db *DB) ContactsWithAttribute(ctx context.Context, key, value string, limit int) ([]store.Contact, error) {
	// Attributes are JSON text; json_valid guards rows written before any
	// were set. A scan, bounded by the limit: the console asks for one
	// customer's few chats.
	rows, err := db.rows(ctx, `SELECT `+contactCols+` FROM contacts WHERE json_valid(attributes)
		AND json_extract(attributes, '$.' || json_quote(?)) = ? ORDER BY created_at DESC, id DESC LIMIT ?`, key, value, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []store.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

func (db *DB) SearchAgentMessages(ctx context.Context, agentID, text string, limit int) ([]store.AgentMessage, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(text) + "%"
	rows, err := db.rows(ctx, `SELECT `+prefixed("i.", itemCols)+`, COALESCE((SELECT display_name FROM participants c
			WHERE c.contact_id = i.contact_id AND c.role = 'CUSTOMER' LIMIT 1), '')
		FROM items i WHERE i.type = 'MESSAGE' AND i.in_transcript AND i.content LIKE ? ESCAPE '\'
		AND i.contact_id IN (SELECT contact_id FROM participants WHERE agent_id = ?)
		ORDER BY i.seq DESC LIMIT ?`, like, agentID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AgentMessage
	for rows.Next() {
		var m store.AgentMessage
		it, err := scanItem(extraScanner{rows, &m.Customer})
		if err != nil {
			return nil, err
		}
		m.Item = it
		out = append(out, m)
	}
	return out, rows.Err()
}

// prefixed qualifies each column of a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// extraScanner scans a row whose last columns follow what scanItem reads.
type extraScanner struct {
	rows  *sql.Rows
	extra *string
}

func (e extraScanner) Scan(dest ...any) error { return e.rows.Scan(append(dest, e.extra)...) }
