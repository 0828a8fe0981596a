// Package postgres is Parley's PostgreSQL storage backend, for deployments
// that outgrow one machine: several Parley processes may share one database.
//
// Writes go through one group committer per process: the changes queued
// while the previous batch committed share one transaction. A batch first
// locks the chats it touches, in id order (so that processes never
// deadlock), and numbers their items from the chats' counters; items and
// idempotency keys then go in one multi-row insert each. A batch in which a
// change fails runs again with a savepoint per change, so that the change
// fails alone. synchronous_commit is on: a nil from Apply means durable.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds how many changes share one transaction.
const maxBatch = 512

// writers bounds how many batches a process has in flight. One at a time
// collects and runs its statements (DB.collect); it lets the next one
// collect as it sends its COMMIT, so while a batch waits for its commit to
// be durable the requests arriving meanwhile gather into the next one,
// and a batch grows with the commit's latency. Batches that share a chat
// take turns on its row lock, so its seqs stay in commit order; the hook
// is called in an order that keeps them so (see turns).
const writers = 4

// migrationLock is the advisory lock key under which a process migrates.
const migrationLock = 0x7061726c6579 // "parley"

// DB is the PostgreSQL store.
type DB struct {
	pool  *pgxpool.Pool // reads
	w     *pgxpool.Pool // the group committers' connections, one each
	hook  store.CommitHook
	turns turns
	reqs  chan *writeReq
	// collect is held by the writer that takes requests from reqs and
	// runs their statements, until it sends its COMMIT.
	collect sync.Mutex
	mu      sync.RWMutex // guards closed against sends on reqs
	closed  bool
	done    chan struct{}

	observer atomic.Pointer[store.CommitObserver]
}

var _ store.Store = (*DB)(nil)

// Observe has o told of every batch committed from now on.
func (db *DB) Observe(o store.CommitObserver) { db.observer.Store(&o) }

type writeReq struct {
	ctx    context.Context
	change *store.Change
	items  []store.Item
	err    error
	done   chan struct{}
}

// Open connects to the database at url (a postgres:// URL or key=value
// string, as pgx parses it), applies the migrations it lacks and starts the
// group committer. hook, if not nil, is called after each commit with the
// committed items.
func Open(ctx context.Context, url string, hook store.CommitHook) (*DB, error) {
	if hook == nil {
		hook = func([]store.Item) {}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// A 200 must mean durable, whatever the server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["application_name"] = "parley"
	// The writers have connections of their own, so that reads never make a
	// batch wait for one.
	wcfg := cfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = writers, writers
	// Every statement of a batch finds its rows by key, mostly with
	// `= ANY($1)` over the batch's ids, and runs as a prepared statement
	// whose generic plan assumes 10 ids. On a small table (a thousand
	// participants) the planner then prefers a scan of the whole table,
	// which compares every row with every id: 0.9 ms a batch of 50
	// against 0.15 ms by the primary key. Scans stay possible where no
	// index serves.
	wcfg.ConnConfig.RuntimeParams["enable_seqscan"] = "off"
	if !strings.Contains(url, "pool_max_conns") {
		// Every request reads (its participant and chat, which are not
		// cached here): pgx's default of max(4, CPUs) queues them under load.
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	w, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, w: w, hook: hook, reqs: make(chan *writeReq, maxBatch), done: make(chan struct{})}
	db.turns.cond = sync.NewCond(&db.turns.mu)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.writer()
		}()
	}
	go func() {
		wg.Wait()
		close(db.done)
	}()
	return db, nil
}

// migrate applies the embedded migrations the database lacks, under an
// advisory lock, so that processes starting at once migrate one at a time.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		var n int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Close waits for queued writes and closes the pool.
func (db *DB) Close() error {
	db.mu.Lock()
	if !db.closed {
		db.closed = true
		close(db.reqs)
	}
	db.mu.Unlock()
	<-db.done
	db.w.Close()
	db.pool.Close()
	return nil
}

var errClosed = errors.New("postgres: store is closed")

// Apply queues c for the next group commit and waits until it is durable.
func (db *DB) Apply(ctx context.Context, c *store.Change) ([]store.Item, error) {
	req := &writeReq{ctx: ctx, change: c, done: make(chan struct{})}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return nil, errClosed
	}
	select {
	case db.reqs <- req:
	case <-ctx.Done():
		db.mu.RUnlock()
		return nil, ctx.Err()
	}
	db.mu.RUnlock()
	<-req.done // not abandoned on ctx: the caller must learn whether it committed
	return req.items, req.err
}

// turns orders the writers' commit hooks. A batch takes a ticket just
// before its COMMIT, holding the row locks of its chats; a batch sharing a
// chat with it can only reach its own COMMIT after that one committed, so
// it takes a later ticket. Hooks run in ticket order, one at a time: each
// chat's items reach the hook in seq order.
type turns struct {
	mu         sync.Mutex
	cond       *sync.Cond
	next, turn uint64
}

func (t *turns) take() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	return t.next - 1
}

// run waits for ticket's turn, runs f and passes the turn on.
func (t *turns) run(ticket uint64, f func()) {
	t.mu.Lock()
	for t.turn != ticket {
		t.cond.Wait()
	}
	t.mu.Unlock()
	f()
	t.mu.Lock()
	t.turn++
	t.mu.Unlock()
	t.cond.Broadcast()
}

func (db *DB) writer() {
	batch := make([]*writeReq, 0, maxBatch)
	for {
		db.collect.Lock()
		first, ok := <-db.reqs
		if !ok {
			db.collect.Unlock()
			return
		}
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
		release := sync.OnceFunc(db.collect.Unlock)
		db.commit(batch, release)
		release()
	}
}

// outcome is how one attempt at a batch ended.
type outcome int

const (
	committed    outcome = iota // or failed for good: every request is answered
	changeFailed                // a change failed without savepoints: nothing was written
	retry                       // a deadlock or serialization failure: nothing was written
)

// maxAttempts bounds the retries of a batch that hit a deadlock or a
// serialization failure (another process's transaction).
const maxAttempts = 5

// commit commits batch, calling release as it sends the COMMIT (or once
// the batch fails).
func (db *DB) commit(batch []*writeReq, release func()) {
	savepoints := false
	for attempt := 1; ; attempt++ {
		switch db.tryCommit(batch, savepoints, attempt >= maxAttempts, release) {
		case committed:
			return
		case changeFailed:
			savepoints = true
		case retry:
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
		}
	}
}

// tryCommit runs batch in one transaction. With savepoints, a failing change
// is rolled back alone; without, the first failure abandons the attempt.
// last makes a retryable error final. It calls release as it sends the
// COMMIT, or when it gives up.
//
// The transaction takes two round trips when nothing fails: BEGIN with the
// locks, then the inserts and updates with COMMIT (the changes' own
// statements in between, for the few kinds that have them). It runs on a
// bare connection rather than a pgx.Tx so that BEGIN and COMMIT can share
// a pipeline with the statements.
func (db *DB) tryCommit(batch []*writeReq, savepoints, last bool, release func()) outcome {
	ctx := context.Background()
	// answer tells every request its result; err fails those that had none.
	answer := func(err error) outcome {
		release()
		for _, r := range batch {
			if r.err == nil && err != nil {
				r.err, r.items = err, nil
			}
			close(r.done)
		}
		return committed
	}
	start := time.Now()
	pc, err := db.w.Acquire(ctx)
	if err != nil {
		if !last {
			return retry
		}
		return answer(fmt.Errorf("postgres: begin: %w", err))
	}
	// A connection left inside a transaction (a failed ROLLBACK) is
	// closed by the pool on release, not reused.
	defer pc.Release()
	conn := pc.Conn()
	rollback := func() { conn.Exec(ctx, `ROLLBACK`) }
	abandon := func(err error) outcome {
		rollback()
		if retryable(err) && !last {
			return retry
		}
		return answer(fmt.Errorf("postgres: %w", err))
	}
	b := &batchTx{tx: conn, deferred: !savepoints}
	if err := b.lock(ctx, batch); err != nil {
		return abandon(err)
	}
	for _, r := range batch {
		r.err, r.items = nil, nil
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		// The commonest failure, a message to an ended chat, needs no
		// savepoint: it is found before the change writes anything.
		if err := b.requireActive(r.change); err != nil {
			r.err = err
			continue
		}
		if err := b.expect(r.change); err != nil {
			r.err = err
			continue
		}
		b.touch(r.change)
		if !savepoints {
			r.items, r.err = b.apply(ctx, r.change)
			if r.err != nil {
				if retryable(r.err) {
					return abandon(r.err)
				}
				rollback()
				return changeFailed
			}
			continue
		}
		if _, err := conn.Exec(ctx, `SAVEPOINT change`); err != nil {
			return abandon(err)
		}
		undo := b.snapshot(r.change)
		r.items, r.err = b.apply(ctx, r.change)
		if r.err == nil {
			continue
		}
		if retryable(r.err) {
			return abandon(r.err)
		}
		r.items = nil
		undo()
		if _, err := conn.Exec(ctx, `ROLLBACK TO SAVEPOINT change`); err != nil {
			return abandon(err)
		}
	}
	// The ticket is taken holding the chats' locks, before the COMMIT that
	// releases them is sent (see turns).
	ticket := db.turns.take()
	committing := time.Now()
	release()
	ok, err := b.flush(ctx, true)
	if err != nil || !ok {
		db.turns.run(ticket, func() {})
		if err == nil {
			rollback()
			return changeFailed
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			// Whether a COMMIT whose answer was lost committed is
			// unknown: no retry.
			rollback()
			return answer(fmt.Errorf("postgres: commit: %w", err))
		}
		return abandon(err) // the server refused a statement: nothing was committed
	}
	done := time.Now()
	var items []store.Item
	for _, r := range batch {
		if r.err == nil {
			items = append(items, r.items...)
		}
	}
	if o := db.observer.Load(); o != nil {
		(*o)(len(batch), len(items), done.Sub(start), done.Sub(committing))
	}
	db.turns.run(ticket, func() {
		if len(items) > 0 {
			db.hook(items)
		}
	})
	return answer(nil)
}

// SQLSTATEs this package acts on.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func retryable(err error) bool {
	s := sqlState(err)
	return s == serializationFailure || s == deadlockDetected
}

// chat is a locked chat row as the batch sees it.
type chat struct {
	state   string
	lastSeq int64
	lastAt  int64
	dirty   bool // the counters changed: flush writes them
	streams int  // active message streams: items are queued for them
}

// batchTx is one batch's transaction.
type batchTx struct {
	tx    *pgx.Conn // inside the batch's transaction
	chats map[string]*chat
	// deferred: items and idempotency keys wait for flush, which inserts
	// them in one statement each; otherwise each change inserts its own.
	deferred bool
	items    []store.Item
	idem     []*store.Idempotency
	// expected are the participants the batch's changes Expect, as read
	// after the chats were locked; touched, the participants and contacts
	// that changes applied earlier in the batch may have changed since.
	expected map[string]expectedRow
	touched  map[key]bool
}

// key names a row of one kind: 'c' a chat, 'p' a participant, 'a' an
// agent, 'q' a queue.
type key struct {
	kind byte
	id   string
}

// expectedRow is what Change.Expect is checked against.
type expectedRow struct {
	contactID, role, state, timers string
	idle                           bool
	idleAt, disconnectAt           int64
}

// chatIDs are the chats a change locks: those it checks, numbers items in
// or changes the state of.
func chatIDs(c *store.Change) []string {
	var ids []string
	if c.RequireActive != "" {
		ids = append(ids, c.RequireActive)
	}
	// The changes that change a participant lock its chat: with the chat
	// locked, what Expect reads of the participant stays true.
	if c.Expect != nil {
		ids = append(ids, c.Expect.ContactID)
	}
	for _, it := range c.Items {
		ids = append(ids, it.ContactID)
	}
	if c.ConnectAgent != nil {
		ids = append(ids, c.ConnectAgent.ContactID)
	}
	if c.End != nil {
		ids = append(ids, c.End.ContactID)
	}
	if c.Subscribed != "" {
		ids = append(ids, c.Subscribed)
	}
	if c.Timers != nil {
		ids = append(ids, c.Timers.ContactID)
	}
	if c.PromoteTimers != nil {
		ids = append(ids, c.PromoteTimers.ContactID)
	}
	// Checks and read-modify-writes of a chat take its lock too.
	if c.RequireNoJoined != nil {
		ids = append(ids, c.RequireNoJoined.ContactID)
	}
	if c.Attributes != nil {
		ids = append(ids, c.Attributes.ContactID)
	}
	if c.Erase != nil {
		ids = append(ids, c.Erase.ContactID)
	}
	if c.Persist != nil {
		ids = append(ids, c.Persist.ContactID)
	}
	if c.AnnounceRehydration != "" {
		ids = append(ids, c.AnnounceRehydration)
	}
	if c.Requeue != nil {
		ids = append(ids, c.Requeue.ContactID)
	}
	if c.StartStream != nil {
		ids = append(ids, c.StartStream.ContactID)
	}
	if c.StopStream != nil {
		ids = append(ids, c.StopStream.ContactID)
	}
	// A limit counted within a chat takes the chat's lock, so that two
	// changes under it take turns.
	for _, l := range c.Limits {
		if l.Count == store.CountFiles || l.Count == store.CountParticipants {
			ids = append(ids, l.Key)
		}
	}
	return ids
}

// lock takes, at the start of the batch and always in the same order,
// every lock its changes need: the chats they touch (reading their state
// and counters), then the agents whose chats a limit counts, then the
// queues with a ceiling. Processes taking locks in one order never
// deadlock over them.
func (b *batchTx) lock(ctx context.Context, batch []*writeReq) error {
	b.chats = make(map[string]*chat)
	var ids, agents, queues, expect []string
	seen := make(map[key]bool, 2*len(batch))
	add := func(list *[]string, kind byte, id string) {
		if n := len(*list); n > 0 && (*list)[n-1] == id {
			return // a change names its chat several times in a row
		}
		if k := (key{kind, id}); !seen[k] {
			seen[k] = true
			*list = append(*list, id)
		}
	}
	for _, r := range batch {
		for _, id := range chatIDs(r.change) {
			add(&ids, 'c', id)
		}
		for _, l := range r.change.Limits {
			if l.Count == store.CountAgentChats || l.Count == store.CountAgentAway {
				add(&agents, 'a', l.Key)
			}
		}
		// A status change locks its agent up front too, in the same order,
		// so that it and an accept counting that agent take turns.
		if st := r.change.AgentStatus; st != nil {
			add(&agents, 'a', st.AgentID)
		}
		if q := r.change.QueueCeiling; q != nil {
			add(&queues, 'q', q.FlowID)
		}
		if e := r.change.Expect; e != nil {
			add(&expect, 'p', e.ParticipantID)
		}
	}
	// One round trip: BEGIN, then the locks in their order. The statements
	// of a pipeline run one after the other, so each runs once those
	// before it hold their locks; the expected participants are read by a
	// statement of their own for that reason (one statement would read
	// them as they were before it waited).
	var pipe pgx.Batch
	pipe.Queue(`BEGIN`)
	if len(ids) > 0 {
		pipe.Queue(`SELECT id, state, last_seq, last_at, active_streams FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if len(expect) > 0 {
			pipe.Queue(`SELECT p.id, p.contact_id, p.role, p.state, p.idle, p.idle_at, p.disconnect_at, c.timers
				FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.id = ANY($1)`, expect)
		}
	}
	if len(agents) > 0 {
		pipe.Queue(`SELECT id FROM agents WHERE id = ANY($1) ORDER BY id FOR UPDATE`, agents)
	}
	if len(queues) > 0 {
		// A queue has no row to lock: an advisory lock per flow stands in.
		sort.Strings(queues)
		pipe.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('parley.queue.' || f, 0))
			FROM unnest($1::text[]) WITH ORDINALITY AS q(f, n) ORDER BY n`, queues)
	}
	br := b.tx.SendBatch(ctx, &pipe)
	_, err := br.Exec()
	if err == nil && len(ids) > 0 {
		err = b.readChats(br)
		if err == nil && len(expect) > 0 {
			err = b.readExpected(br, len(expect))
		}
	}
	if err == nil && len(agents) > 0 {
		_, err = br.Exec()
	}
	if err == nil && len(queues) > 0 {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// readChats reads the locked chats.
func (b *batchTx) readChats(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		k := &chat{}
		if err := rows.Scan(&id, &k.state, &k.lastSeq, &k.lastAt, &k.streams); err != nil {
			return err
		}
		b.chats[id] = k
	}
	return rows.Err()
}

// readExpected reads the participants that changes Expect, with their
// contacts' timers.
func (b *batchTx) readExpected(br pgx.BatchResults, n int) error {
	b.expected = make(map[string]expectedRow, n)
	b.touched = make(map[key]bool)
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e expectedRow
		if err := rows.Scan(&id, &e.contactID, &e.role, &e.state, &e.idle, &e.idleAt, &e.disconnectAt, &e.timers); err != nil {
			return err
		}
		b.expected[id] = e
	}
	return rows.Err()
}

// expect checks c.Expect against the participant as the batch read it. A
// participant or contact that an earlier change of the batch may have
// changed counts as stale: the caller then reads afresh and tries again.
func (b *batchTx) expect(c *store.Change) error {
	e := c.Expect
	if e == nil {
		return nil
	}
	row, ok := b.expected[e.ParticipantID]
	if !ok || b.touched[key{'p', e.ParticipantID}] || b.touched[key{'c', e.ContactID}] {
		return store.ErrStale
	}
	return store.CheckExpect(e, row.contactID, row.role, row.state, row.idle, fromMS(row.idleAt), fromMS(row.disconnectAt), row.timers)
}

// touch notes the participants and contacts c may change, for expect.
func (b *batchTx) touch(c *store.Change) {
	if b.touched == nil {
		return // nothing in the batch Expects
	}
	for _, id := range c.Acknowledge {
		b.touched[key{'p', id}] = true
	}
	for _, l := range c.Leave {
		b.touched[key{'p', l.ParticipantID}] = true
	}
	for _, k := range c.Clocks {
		b.touched[key{'p', k.ParticipantID}] = true
	}
	if c.Barge != "" {
		b.touched[key{'p', c.Barge}] = true
	}
	if c.ParticipantToken != nil {
		b.touched[key{'p', c.ParticipantToken.ParticipantID}] = true
	}
	var contacts []string
	if c.End != nil {
		contacts = append(contacts, c.End.ContactID)
	}
	if c.Timers != nil {
		contacts = append(contacts, c.Timers.ContactID)
	}
	if c.PromoteTimers != nil {
		contacts = append(contacts, c.PromoteTimers.ContactID)
	}
	if c.Erase != nil {
		contacts = append(contacts, c.Erase.ContactID)
	}
	if c.Requeue != nil {
		contacts = append(contacts, c.Requeue.ContactID)
	}
	if c.ConnectAgent != nil {
		contacts = append(contacts, c.ConnectAgent.ContactID)
	}
	if c.Persist != nil {
		contacts = append(contacts, c.Persist.ContactID)
	}
	for _, id := range contacts {
		b.touched[key{'c', id}] = true
	}
}

func (b *batchTx) requireActive(c *store.Change) error {
	if c.RequireActive == "" {
		return nil
	}
	k := b.chats[c.RequireActive]
	switch {
	case k == nil:
		return store.ErrNotFound
	case k.state == store.ContactEnded:
		return store.ErrEnded
	}
	return nil
}

// snapshot returns what undoes a change's effect on the batch's view of
// its chats, for a change rolled back to its savepoint.
func (b *batchTx) snapshot(c *store.Change) func() {
	saved := make(map[string]*chat)
	for _, id := range chatIDs(c) {
		if k := b.chats[id]; k != nil {
			v := *k
			saved[id] = &v
		} else {
			saved[id] = nil
		}
	}
	var created string
	if c.NewContact != nil && b.chats[c.NewContact.ID] == nil {
		created = c.NewContact.ID
	}
	return func() {
		for id, k := range saved {
			if k == nil {
				delete(b.chats, id)
			} else {
				*b.chats[id] = *k
			}
		}
		if created != "" {
			delete(b.chats, created)
		}
	}
}

func (b *batchTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := b.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// execOne runs a change that must touch a row; none is its error when it
// touched none.
func (b *batchTx) execOne(ctx context.Context, none error, q string, args ...any) error {
	n, err := b.exec(ctx, q, args...)
	if err == nil && n == 0 {
		return none
	}
	return err
}

// setTimers applies a SetTimers, deciding from the participants joined
// now whether the timers are pending. The chat is locked (see chatIDs): no
// participant joins or leaves meanwhile.
func (b *batchTx) setTimers(ctx context.Context, st *store.SetTimers) error {
	pending := len(st.PendingWhile) > 0
	for _, roles := range st.PendingWhile {
		var n int
		if err := b.tx.QueryRow(ctx, `SELECT COUNT(*) FROM participants WHERE contact_id = $1 AND state = 'JOINED' AND role = ANY($2)`,
			st.ContactID, roles).Scan(&n); err != nil {
			return err
		}
		pending = pending && n > 0
	}
	t := st.Timers
	if t == nil {
		t = map[string]store.ParticipantTimers{}
	}
	q := `UPDATE contacts SET timers = $1, pending_timers = '' WHERE id = $2`
	if pending {
		q = `UPDATE contacts SET pending_timers = $1 WHERE id = $2`
	}
	_, err := b.exec(ctx, q, store.EncodeTimers(t), st.ContactID)
	return err
}

func (b *batchTx) apply(ctx context.Context, c *store.Change) ([]store.Item, error) {
	if rc := c.RequireNoJoined; rc != nil && len(rc.Roles) > 0 {
		// The chat is locked (see chatIDs): no participant joins meanwhile.
		var n int
		if err := b.tx.QueryRow(ctx, `SELECT COUNT(*) FROM participants WHERE contact_id = $1 AND state = 'JOINED' AND role = ANY($2)`,
			rc.ContactID, rc.Roles).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, store.ErrConflict
		}
	}
	if pt := c.PromoteTimers; pt != nil {
		// The chat is locked (see chatIDs): its timers stay as read.
		var timers, pending string
		if err := b.tx.QueryRow(ctx, `SELECT timers, pending_timers FROM contacts WHERE id = $1`, pt.ContactID).Scan(&timers, &pending); err != nil {
			return nil, notFound(err)
		}
		t, err := pt.Promote(timers, pending)
		if err != nil {
			return nil, err
		}
		if _, err := b.exec(ctx, `UPDATE contacts SET timers = $1, pending_timers = '' WHERE id = $2`, t, pt.ContactID); err != nil {
			return nil, err
		}
	}
	if i := c.Idempotency; i != nil {
		if b.deferred {
			b.idem = append(b.idem, i)
		} else {
			if err := b.execOne(ctx, store.ErrDuplicate, `INSERT INTO idempotency (scope, client_token, response, created_at, contact_id) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT DO NOTHING`, i.Scope, i.ClientToken, i.Response, time.Now().UnixMilli(), i.ContactID); err != nil {
				return nil, err
			}
		}
	}
	if q := c.QueueCeiling; q != nil {
		// The flow's advisory lock (see lock) makes the count current.
		var n int
		if err := b.tx.QueryRow(ctx, `SELECT COUNT(*) FROM contacts WHERE state = 'QUEUED' AND flow_id = $1`, q.FlowID).Scan(&n); err != nil {
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
		if _, err := b.exec(ctx, `INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state,
			attributes, content_types, agent_id, created_at, connected_at, ended_at, deadline, disconnect_reason, customer_attributes,
			related_contact_id, continued_from_id, rehydration_type, customer_id, segment_attributes, connect_by, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
			k.ID, k.InstanceID, k.InitialContactID, k.FlowID, k.QueueID, k.State, string(attrs), string(types),
			k.AgentID, ms(k.CreatedAt), ms(k.ConnectedAt), ms(k.EndedAt), ms(k.Deadline), k.DisconnectReason, string(customer),
			k.RelatedContactID, k.ContinuedFromID, k.RehydrationType, k.CustomerID, string(segments), ms(k.ConnectBy), ms(k.UpdatedAt)); err != nil {
			if constraint(err) == "contacts_continued_from" {
				return nil, store.ErrConflict // the source is continued already
			}
			return nil, err
		}
		// Nobody else sees the row before this transaction commits: it is
		// as good as locked.
		b.chats[k.ID] = &chat{state: k.State}
	}
	for _, p := range c.NewParticipants {
		if _, err := b.exec(ctx, `INSERT INTO participants (id, contact_id, role, display_name, token_hash, state, connected, joined_at, left_at, agent_id,
			monitor_capabilities, barged, idle, idle_at, disconnect_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			p.ID, p.ContactID, p.Role, p.DisplayName, p.TokenHash, p.State, p.Connected, ms(p.JoinedAt), ms(p.LeftAt), p.AgentID,
			strings.Join(p.MonitorCapabilities, ","), p.Barged, p.Idle, ms(p.IdleAt), ms(p.DisconnectAt)); err != nil {
			return nil, err
		}
	}
	if err := b.applyChatFeatures(ctx, c); err != nil {
		return nil, err
	}
	if a := c.ConnectAgent; a != nil {
		n, err := b.exec(ctx, `UPDATE contacts SET state = $1, agent_id = $2, connected_at = $3, transfer_to = ''
			WHERE id = $4 AND state = $5 AND ($6 = '' OR transfer_to = '' OR transfer_to = $6)`,
			store.ContactConnected, a.AgentID, ms(a.At), a.ContactID, store.ContactQueued, a.Console)
		if err != nil {
			return nil, err
		}
		if n == 0 && a.Exclusive {
			return nil, store.ErrConflict
		}
		if k := b.chats[a.ContactID]; k != nil && n > 0 {
			k.state = store.ContactConnected
		}
	}
	for _, id := range c.Acknowledge {
		if _, err := b.exec(ctx, `UPDATE participants SET connected = true WHERE id = $1`, id); err != nil {
			return nil, err
		}
	}
	for _, k := range c.Clocks {
		q := `UPDATE participants SET idle = $1, idle_at = $2, disconnect_at = $3, claimed_until = 0 WHERE id = $4`
		args := []any{k.Idle, ms(k.IdleAt), ms(k.DisconnectAt), k.ParticipantID}
		if k.Conditional {
			q += ` AND state = $5 AND idle_at = $6 AND disconnect_at = $7`
			args = append(args, store.ParticipantJoined, ms(k.IfIdleAt), ms(k.IfDisconnectAt))
		}
		if err := b.execOne(ctx, store.ErrConflict, q, args...); err != nil {
			return nil, err
		}
	}
	for _, l := range c.Leave {
		if err := b.execOne(ctx, store.ErrEnded, `UPDATE participants SET state = $1, left_at = $2 WHERE id = $3 AND state <> $1`,
			store.ParticipantLeft, ms(l.At), l.ParticipantID); err != nil {
			return nil, err
		}
	}
	for _, t := range c.Tokens {
		if _, err := b.exec(ctx, `INSERT INTO connection_tokens (hash, participant_id, expires_at) VALUES ($1, $2, $3)`,
			t.Hash, t.ParticipantID, ms(t.Expires)); err != nil {
			return nil, err
		}
	}
	items, err := b.number(c.Items)
	if err != nil {
		return nil, err
	}
	if err := b.queueDeliveries(ctx, items); err != nil {
		return nil, err
	}
	if b.deferred {
		b.items = append(b.items, items...)
	} else if len(items) > 0 {
		if _, err := b.insertItems(ctx, items, false); err != nil {
			if constraint(err) == "items_client_token" {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
	}
	for _, rc := range c.Receipts {
		if _, err := b.exec(ctx, `INSERT INTO receipts (message_id, recipient_id, contact_id, delivered_at, read_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (message_id, recipient_id) DO UPDATE SET
				delivered_at = CASE WHEN receipts.delivered_at = 0 THEN excluded.delivered_at ELSE receipts.delivered_at END,
				read_at = CASE WHEN receipts.read_at = 0 THEN excluded.read_at ELSE receipts.read_at END`,
			rc.MessageID, rc.RecipientID, rc.ContactID, ms(rc.Delivered), ms(rc.Read)); err != nil {
			return nil, err
		}
	}
	if m := c.Attributes; m != nil {
		var raw string
		err := b.tx.QueryRow(ctx, `SELECT attributes FROM contacts WHERE id = $1`, m.ContactID).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
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
		j, _ := json.Marshal(attrs)
		if _, err := b.exec(ctx, `UPDATE contacts SET attributes = $1, updated_at = GREATEST(updated_at, $2) WHERE id = $3`,
			string(j), ms(m.At), m.ContactID); err != nil {
			return nil, err
		}
	}
	if st := c.Timers; st != nil {
		if err := b.setTimers(ctx, st); err != nil {
			return nil, err
		}
	}
	if f := c.NewFile; f != nil {
		if _, err := b.exec(ctx, `INSERT INTO files (id, contact_id, participant_id, name, content_type, size, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, f.ID, f.ContactID, f.ParticipantID, f.Name, f.ContentType, f.Size, f.State,
			ms(f.CreatedAt)); err != nil {
			return nil, err
		}
	}
	for _, u := range c.FileUpdates {
		if err := b.execOne(ctx, store.ErrConflict, `UPDATE files SET state = $1, updated_at = $2,
				sha256 = CASE WHEN $3 <> '' THEN $3 ELSE sha256 END,
				serve_type = CASE WHEN $4 <> '' THEN $4 ELSE serve_type END,
				reason = CASE WHEN $5 <> '' THEN $5 ELSE reason END,
				item_id = CASE WHEN $6 <> '' THEN $6 ELSE item_id END,
				lease_until = CASE WHEN $9::bigint > 0 THEN $9::bigint
					WHEN $8 = 'RECEIVING' AND $1 <> 'RECEIVING' THEN 0 ELSE lease_until END,
				receiver = $10
			WHERE id = $7 AND state = $8 AND ($11 = '' OR receiver = $11) AND (NOT $12 OR lease_until <= $2)`,
			u.To, ms(u.At), u.SHA256, u.ServeType, u.Reason, u.ItemID, u.ID, u.From, ms(u.LeaseUntil),
			u.Receiver, u.IfReceiver, u.IfLeaseEnded); err != nil {
			return nil, err
		}
	}
	if len(c.ItemUpdates) > 0 {
		// The items may be among those waiting to be inserted.
		if ok, err := b.flush(ctx, false); err != nil || !ok {
			return nil, errors.Join(err, errFlush)
		}
	}
	for itemID, u := range c.ItemUpdates {
		j, _ := json.Marshal(u.Attachments)
		if _, err := b.exec(ctx, `UPDATE items SET attachments = $1, content = $2 WHERE id = $3`, string(j), u.Content, itemID); err != nil {
			return nil, err
		}
	}
	if fc := c.FilesConfig; fc != nil {
		exts, _ := json.Marshal(fc.Extensions)
		if _, err := b.exec(ctx, `INSERT INTO attached_files_config (instance_id, scope, max_bytes, extensions, modified_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (instance_id, scope) DO UPDATE SET max_bytes = excluded.max_bytes, extensions = excluded.extensions,
				modified_at = excluded.modified_at`, fc.InstanceID, fc.Scope, fc.MaxBytes, string(exts), ms(fc.ModifiedAt)); err != nil {
			return nil, err
		}
	}
	if a := c.NewAgent; a != nil {
		if _, err := b.exec(ctx, `INSERT INTO agents (id, name, key_hash, created_at) VALUES ($1, $2, $3, $4)`,
			a.ID, a.Name, a.KeyHash, ms(a.CreatedAt)); err != nil {
			if sqlState(err) == uniqueViolation {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
	}
	if name := c.RemoveAgent; name != "" {
		if err := b.execOne(ctx, store.ErrNotFound, `DELETE FROM agents WHERE name = $1`, name); err != nil {
			return nil, err
		}
	}
	if k := c.AgentKey; k != nil {
		if err := b.execOne(ctx, store.ErrNotFound, `UPDATE agents SET key_hash = $1 WHERE name = $2`, k.KeyHash, k.Name); err != nil {
			return nil, err
		}
	}
	if st := c.AgentStatus; st != nil {
		if err := b.execOne(ctx, store.ErrNotFound, `UPDATE agents SET status = $1 WHERE id = $2`, st.Status, st.AgentID); err != nil {
			return nil, err
		}
	}
	if k := c.NewCanned; k != nil {
		if _, err := b.exec(ctx, `INSERT INTO canned_responses (id, instance_id, shortcut, text, created_at) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.InstanceID, k.Shortcut, k.Text, ms(k.CreatedAt)); err != nil {
			if sqlState(err) == uniqueViolation {
				return nil, store.ErrDuplicate
			}
			return nil, err
		}
	}
	if k := c.RemoveCanned; k != nil {
		if err := b.execOne(ctx, store.ErrNotFound, `DELETE FROM canned_responses WHERE instance_id = $1 AND id = $2`, k.InstanceID, k.ID); err != nil {
			return nil, err
		}
	}
	if c.Subscribed != "" {
		if _, err := b.exec(ctx, `UPDATE contacts SET connect_by = 0 WHERE id = $1 AND connect_by > 0`, c.Subscribed); err != nil {
			return nil, err
		}
	}
	if e := c.End; e != nil {
		if e.OnlyNotConnected {
			var by int64 // the row is locked (chatIDs): a connection cannot clear it meanwhile
			if err := b.tx.QueryRow(ctx, `SELECT connect_by FROM contacts WHERE id = $1`, e.ContactID).Scan(&by); err != nil {
				return nil, notFound(err)
			}
			if by == 0 {
				return nil, store.ErrConflict
			}
		}
		if e.OnlyQueued {
			k := b.chats[e.ContactID] // locked: its state is current
			if k == nil {
				return nil, store.ErrNotFound
			}
			if k.state != store.ContactQueued {
				return nil, store.ErrConflict
			}
		}
		if err := b.execOne(ctx, store.ErrEnded, `UPDATE contacts SET state = $1, ended_at = $2, disconnect_reason = $3 WHERE id = $4 AND state <> $1`,
			store.ContactEnded, ms(e.At), e.Reason, e.ContactID); err != nil {
			return nil, err
		}
		if k := b.chats[e.ContactID]; k != nil {
			k.state = store.ContactEnded
		}
		// An ended chat's participants have no timers left to run.
		if _, err := b.exec(ctx, `UPDATE participants SET idle_at = 0, disconnect_at = 0 WHERE contact_id = $1
			AND (idle_at > 0 OR disconnect_at > 0)`, e.ContactID); err != nil {
			return nil, err
		}
	}
	if e := c.Erase; e != nil {
		// Rows of this chat may wait to be inserted: they go first, and
		// are erased with the rest.
		if ok, err := b.flush(ctx, false); err != nil || !ok {
			return nil, errors.Join(err, errFlush)
		}
		if err := b.erase(ctx, e); err != nil {
			return nil, err
		}
	}
	// Counted after the writes, under the locks lock took: a concurrent
	// change under the same limit waits for this transaction.
	for _, l := range c.Limits {
		q, ok := limitQueries[l.Count]
		if !ok {
			return nil, fmt.Errorf("postgres: unknown limit %q", l.Count)
		}
		var n int
		if err := b.tx.QueryRow(ctx, q, l.Key).Scan(&n); err != nil {
			return nil, err
		}
		if n > l.Max {
			return nil, &store.LimitError{Limit: l, Found: n}
		}
	}
	return items, nil
}

// erase deletes a contact's rows, children first, and records the
// tombstone; a contact erased already keeps its first tombstone.
func (b *batchTx) erase(ctx context.Context, e *store.Tombstone) error {
	if b.chats[e.ContactID] == nil { // locked, or not there
		var n int
		if err := b.tx.QueryRow(ctx, `SELECT COUNT(*) FROM erasures WHERE contact_id = $1`, e.ContactID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil // erased already
	}
	for _, q := range []string{
		`DELETE FROM receipts WHERE contact_id = $1`,
		`DELETE FROM items WHERE contact_id = $1`,
		`DELETE FROM stream_outbox WHERE contact_id = $1`,
		`DELETE FROM streams WHERE contact_id = $1`,
		`DELETE FROM files WHERE contact_id = $1`,
		`DELETE FROM connection_tokens WHERE participant_id IN (SELECT id FROM participants WHERE contact_id = $1)`,
		// Records made before they named their contact are found by the
		// participant or contact their scope names.
		`DELETE FROM idempotency WHERE contact_id = $1 OR scope = 'add-participant:' || $1
			OR scope IN (SELECT x.p || participants.id FROM participants,
				(SELECT 'start-upload:' AS p UNION ALL SELECT 'complete-upload:') AS x WHERE contact_id = $1)`,
		`DELETE FROM participants WHERE contact_id = $1`,
		`DELETE FROM contacts WHERE id = $1`,
	} {
		if _, err := b.exec(ctx, q, e.ContactID); err != nil {
			return err
		}
	}
	delete(b.chats, e.ContactID)
	_, err := b.exec(ctx, `INSERT INTO erasures (contact_id, erased_at, reason) VALUES ($1, $2, $3)`, e.ContactID, ms(e.At), e.Reason)
	return err
}

// limitQueries count what a store.Limit bounds, for its Key.
var limitQueries = map[string]string{
	store.CountFiles:        `SELECT COUNT(*) FROM files WHERE contact_id = $1 AND state <> 'REJECTED'`,
	store.CountParticipants: `SELECT COUNT(*) FROM participants WHERE contact_id = $1 AND state = 'JOINED'`,
	store.CountAgentChats: `SELECT COUNT(*) FROM participants WHERE agent_id = $1 AND state = 'JOINED'
		AND role <> 'SUPERVISOR' AND contact_id IN (SELECT id FROM contacts WHERE state <> 'ENDED')`,
	store.CountAgentAway: `SELECT COUNT(*) FROM agents WHERE id = $1 AND status = 'AWAY'`,
}

// errFlush: a deferred insert met a duplicate; the batch runs again with
// savepoints, where each change inserts its own.
var errFlush = errors.New("postgres: deferred insert conflicted")

// number gives items their seqs and times from their chats' counters.
func (b *batchTx) number(in []store.Item) ([]store.Item, error) {
	items := make([]store.Item, 0, len(in))
	for _, it := range in {
		k := b.chats[it.ContactID]
		if k == nil {
			return nil, store.ErrNotFound
		}
		k.lastSeq++
		k.lastAt = max(k.lastAt, time.Now().UnixMilli()) // never back, even if the clock steps back
		k.dirty = true
		it.Seq, it.Time = k.lastSeq, time.UnixMilli(k.lastAt).UTC()
		items = append(items, it)
	}
	return items, nil
}

// constraint names the unique constraint err violated, if it is a unique
// violation (SQLSTATE 23505).
func constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return pe.ConstraintName
	}
	return ""
}

// insertItems inserts items in one statement. With skipDuplicates a
// conflicting row is left out, and the count inserted tells.
func (b *batchTx) insertItems(ctx context.Context, items []store.Item, skipDuplicates bool) (int64, error) {
	q, args := itemsInsert(items, skipDuplicates)
	return b.exec(ctx, q, args...)
}

// itemsInsert is the statement that inserts items.
func itemsInsert(items []store.Item, skipDuplicates bool) (string, []any) {
	n := len(items)
	var (
		contact, id, participant, token, typ, ctype, content, name, role, attachments, receipts, message = make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq, at      = make([]int64, n), make([]int64, n)
		inTranscript = make([]bool, n)
	)
	for i, it := range items {
		contact[i], seq[i], id[i], participant[i], token[i] = it.ContactID, it.Seq, it.ID, it.ParticipantID, it.ClientToken
		typ[i], ctype[i], content[i], name[i], role[i] = it.Type, it.ContentType, it.Content, it.DisplayName, it.Role
		if !it.InTranscript {
			content[i] = "" // delivered by the hook, never read back (store.Item)
		}
		at[i], inTranscript[i], message[i] = it.Time.UnixMilli(), it.InTranscript, it.MessageID
		if len(it.Attachments) > 0 {
			j, _ := json.Marshal(it.Attachments)
			attachments[i] = string(j)
		}
		if len(it.Receipts) > 0 {
			j, _ := json.Marshal(it.Receipts)
			receipts[i] = string(j)
		}
	}
	q := `INSERT INTO items (contact_id, seq, id, participant_id, client_token, type, content_type, content, display_name, role,
			at, in_transcript, attachments, receipts, message_id)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::bigint[], $12::boolean[], $13::text[], $14::text[], $15::text[])`
	if skipDuplicates {
		q += ` ON CONFLICT DO NOTHING`
	}
	return q, []any{contact, seq, id, participant, token, typ, ctype, content, name, role, at, inTranscript,
		attachments, receipts, message}
}

// flush inserts the deferred idempotency keys and items, in one round
// trip. false means a key or an item was a duplicate, and the batch must
// run again with savepoints.
//
// With commit, the batch's last round trip, it also writes the counters of
// the chats that got items and commits. Its inserts then have no ON
// CONFLICT: a duplicate fails its statement, which makes the server skip
// the COMMIT queued after it, and flush reports it as false.
func (b *batchTx) flush(ctx context.Context, commit bool) (bool, error) {
	var batch pgx.Batch
	var want []int64 // the rows each statement must insert; -1: any
	onConflict := ` ON CONFLICT DO NOTHING`
	if commit {
		onConflict = ""
	}
	if n := len(b.idem); n > 0 {
		scope, token, response, created, contact := make([]string, n), make([]string, n), make([][]byte, n), make([]int64, n), make([]string, n)
		now := time.Now().UnixMilli()
		for i, k := range b.idem {
			scope[i], token[i], response[i], created[i], contact[i] = k.Scope, k.ClientToken, k.Response, now, k.ContactID
		}
		batch.Queue(`INSERT INTO idempotency (scope, client_token, response, created_at, contact_id)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::text[])`+onConflict,
			scope, token, response, created, contact)
		want = append(want, int64(n))
	}
	if len(b.items) > 0 {
		q, args := itemsInsert(b.items, !commit)
		batch.Queue(q, args...)
		want = append(want, int64(len(b.items)))
	}
	if commit {
		var ids []string
		var seqs, ats []int64
		for id, k := range b.chats {
			if k.dirty {
				ids, seqs, ats = append(ids, id), append(seqs, k.lastSeq), append(ats, k.lastAt)
			}
		}
		if len(ids) > 0 {
			batch.Queue(`UPDATE contacts SET last_seq = v.seq, last_at = v.at
				FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, seq, at) WHERE contacts.id = v.id`, ids, seqs, ats)
			want = append(want, -1)
		}
		batch.Queue(`COMMIT`)
		want = append(want, -1)
	}
	if len(want) == 0 {
		return true, nil
	}
	br := b.tx.SendBatch(ctx, &batch)
	ok := true
	for i, w := range want {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			if constraint(err) != "" {
				return false, nil
			}
			return false, err
		}
		ok = ok && tag.RowsAffected() >= w
		if commit && i == len(want)-1 && tag.String() != "COMMIT" {
			// The server answers ROLLBACK to the COMMIT of a failed
			// transaction.
			br.Close()
			return false, pgx.ErrTxCommitRollback
		}
	}
	if err := br.Close(); err != nil {
		return false, err
	}
	if ok {
		b.idem, b.items = b.idem[:0], b.items[:0]
	}
	return ok, nil
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
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

type rowScanner interface{ Scan(...any) error }

// collect reads every row of a query with scan.
func collect[T any](db *DB, ctx context.Context, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

const contactCols = `id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, agent_id,
	created_at, connected_at, ended_at, deadline, disconnect_reason, timers, customer_attributes,
	related_contact_id, continued_from_id, rehydration_type, rehydration_announced, transfer_to, customer_id, segment_attributes,
	connect_by, updated_at, pending_timers, requeued_at`

// contactRow is what a row of contactCols scans into.
type contactRow struct {
	c                                        store.Contact
	attrs, types, timers, customer, segments string
	pending                                  string
	created, connected, ended, deadline      int64
	connectBy, updated, requeued             int64
}

func (r *contactRow) dest() []any {
	c := &r.c
	return []any{&c.ID, &c.InstanceID, &c.InitialContactID, &c.FlowID, &c.QueueID, &c.State, &r.attrs, &r.types,
		&c.AgentID, &r.created, &r.connected, &r.ended, &r.deadline, &c.DisconnectReason, &r.timers, &r.customer,
		&c.RelatedContactID, &c.ContinuedFromID, &c.RehydrationType, &c.RehydrationAnnounced, &c.TransferTo,
		&c.CustomerID, &r.segments, &r.connectBy, &r.updated, &r.pending, &r.requeued}
}

func (r *contactRow) contact() (store.Contact, error) {
	if err := fillContact(&r.c, r.attrs, r.types, r.timers, r.customer, r.created, r.connected, r.ended, r.deadline); err != nil {
		return r.c, err
	}
	r.c.ConnectBy, r.c.UpdatedAt, r.c.RequeuedAt = fromMS(r.connectBy), fromMS(r.updated), fromMS(r.requeued)
	var err error
	if r.c.PendingTimers, err = store.DecodeTimers(r.pending); err != nil {
		return r.c, err
	}
	if r.segments != "" {
		if err := json.Unmarshal([]byte(r.segments), &r.c.SegmentAttributes); err != nil {
			return r.c, err
		}
	}
	return r.c, nil
}

func scanContact(row rowScanner) (store.Contact, error) {
	var r contactRow
	if err := row.Scan(r.dest()...); err != nil {
		return r.c, notFound(err)
	}
	return r.contact()
}

// fillContact decodes a contact's JSON and time columns.
func fillContact(c *store.Contact, attrs, types, timers, customer string, created, connected, ended, deadline int64) error {
	if customer != "" {
		if err := json.Unmarshal([]byte(customer), &c.CustomerAttributes); err != nil {
			return err
		}
	}
	if timers != "" {
		if err := json.Unmarshal([]byte(timers), &c.Timers); err != nil {
			return err
		}
	}
	if err := json.Unmarshal([]byte(attrs), &c.Attributes); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(types), &c.ContentTypes); err != nil {
		return err
	}
	c.CreatedAt, c.ConnectedAt, c.EndedAt, c.Deadline = fromMS(created), fromMS(connected), fromMS(ended), fromMS(deadline)
	return nil
}

func (db *DB) Contact(ctx context.Context, id string) (store.Contact, error) {
	return scanContact(db.pool.QueryRow(ctx, `SELECT `+contactCols+` FROM contacts WHERE id = $1`, id))
}

func (db *DB) ActiveContacts(ctx context.Context) iter.Seq2[store.Contact, error] {
	return func(yield func(store.Contact, error) bool) {
		rows, err := db.pool.Query(ctx, `SELECT `+contactCols+` FROM contacts WHERE state <> $1`, store.ContactEnded)
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
	err := db.pool.QueryRow(ctx, `SELECT response FROM idempotency WHERE scope = $1 AND client_token = $2`, scope, clientToken).Scan(&b)
	return b, notFound(err)
}

const participantCols = `id, contact_id, role, display_name, token_hash, state, connected, joined_at, left_at, agent_id,
	monitor_capabilities, barged, idle, idle_at, disconnect_at`

// participantRow is what a row of participantCols scans into.
type participantRow struct {
	p                              store.Participant
	joined, left, idle, disconnect int64
	caps                           string
}

func (r *participantRow) dest() []any {
	p := &r.p
	return []any{&p.ID, &p.ContactID, &p.Role, &p.DisplayName, &p.TokenHash, &p.State, &p.Connected, &r.joined, &r.left, &p.AgentID,
		&r.caps, &p.Barged, &p.Idle, &r.idle, &r.disconnect}
}

func (r *participantRow) participant() store.Participant {
	r.p.JoinedAt, r.p.LeftAt = fromMS(r.joined), fromMS(r.left)
	r.p.IdleAt, r.p.DisconnectAt = fromMS(r.idle), fromMS(r.disconnect)
	if r.caps != "" {
		r.p.MonitorCapabilities = strings.Split(r.caps, ",")
	}
	return r.p
}

func scanParticipant(row rowScanner) (store.Participant, error) {
	var r participantRow
	err := row.Scan(r.dest()...)
	return r.participant(), notFound(err)
}

func (db *DB) Participant(ctx context.Context, id string) (store.Participant, error) {
	return scanParticipant(db.pool.QueryRow(ctx, `SELECT `+participantCols+` FROM participants WHERE id = $1`, id))
}

// Session reads a participant and its contact in one query: every request
// of a participant needs both, and nothing mutable of either is cached.
func (db *DB) Session(ctx context.Context, participantID string) (store.Participant, store.Contact, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+prefixed("p", participantCols)+`, `+prefixed("c", contactCols)+`
		FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.id = $1`, participantID)
	var pr participantRow
	var cr contactRow
	if err := row.Scan(append(pr.dest(), cr.dest()...)...); err != nil {
		return pr.p, cr.c, notFound(err)
	}
	c, err := cr.contact()
	return pr.participant(), c, err
}

// prefixed qualifies each of a list of columns with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func (db *DB) ParticipantByToken(ctx context.Context, tokenHash string) (store.Participant, error) {
	return scanParticipant(db.pool.QueryRow(ctx, `SELECT `+participantCols+` FROM participants WHERE token_hash = $1`, tokenHash))
}

func (db *DB) Participants(ctx context.Context, contactID string) ([]store.Participant, error) {
	return collect(db, ctx, scanParticipant, `SELECT `+participantCols+` FROM participants WHERE contact_id = $1 ORDER BY joined_at, id`, contactID)
}

func (db *DB) AgentParticipants(ctx context.Context, agentID string) ([]store.Participant, error) {
	return collect(db, ctx, scanParticipant, `SELECT `+participantCols+` FROM participants WHERE agent_id = $1 AND state = $2
		AND contact_id IN (SELECT id FROM contacts WHERE state <> $3) ORDER BY joined_at`, agentID, store.ParticipantJoined, store.ContactEnded)
}

func (db *DB) ConnectionToken(ctx context.Context, hash string) (store.ConnectionToken, error) {
	t := store.ConnectionToken{Hash: hash}
	var exp int64
	err := db.pool.QueryRow(ctx, `SELECT participant_id, expires_at FROM connection_tokens WHERE hash = $1`, hash).Scan(&t.ParticipantID, &exp)
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
	return scanItem(db.pool.QueryRow(ctx, `SELECT `+itemCols+` FROM items WHERE id = $1 AND contact_id = $2`, id, contactID))
}

func (db *DB) ItemByClientToken(ctx context.Context, participantID, clientToken string) (store.Item, error) {
	return scanItem(db.pool.QueryRow(ctx, `SELECT `+itemCols+` FROM items
		WHERE participant_id = $1 AND client_token = $2 AND client_token <> ''`, participantID, clientToken))
}

func (db *DB) Transcript(ctx context.Context, contactID string, from int64, forward bool, limit int) ([]store.Item, error) {
	q := `SELECT ` + itemCols + ` FROM items WHERE contact_id = $1 AND in_transcript AND seq <= $2 ORDER BY seq DESC LIMIT $3`
	if forward {
		q = `SELECT ` + itemCols + ` FROM items WHERE contact_id = $1 AND in_transcript AND seq >= $2 ORDER BY seq ASC LIMIT $3`
	}
	return collect(db, ctx, scanItem, q, contactID, from, limit)
}

func (db *DB) ItemsFrom(ctx context.Context, contactID string, from int64, limit int) ([]store.Item, error) {
	return collect(db, ctx, scanItem, `SELECT `+itemCols+` FROM items WHERE contact_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
		contactID, from, limit)
}

func (db *DB) TranscriptSeqAt(ctx context.Context, contactID string, t time.Time, forward bool) (int64, error) {
	// at never decreases with seq within a chat, so the first match in seq
	// order is the answer.
	q := `SELECT seq FROM items WHERE contact_id = $1 AND in_transcript AND at <= $2 ORDER BY seq DESC LIMIT 1`
	if forward {
		q = `SELECT seq FROM items WHERE contact_id = $1 AND in_transcript AND at >= $2 ORDER BY seq ASC LIMIT 1`
	}
	var seq int64
	err := db.pool.QueryRow(ctx, q, contactID, t.UnixMilli()).Scan(&seq)
	return seq, notFound(err)
}

func (db *DB) TranscriptNewest(ctx context.Context, contactID string, n int) (int64, error) {
	var seq int64
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(MIN(seq), 0) FROM (SELECT seq FROM items WHERE contact_id = $1 AND in_transcript
		ORDER BY seq DESC LIMIT $2) AS newest`, contactID, max(n, 1)).Scan(&seq)
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
	rcs, err := collect(db, ctx, func(row rowScanner) (store.Receipt, error) {
		var rc store.Receipt
		var delivered, read int64
		err := row.Scan(&rc.MessageID, &rc.RecipientID, &rc.ContactID, &delivered, &read)
		rc.Delivered, rc.Read = fromMS(delivered), fromMS(read)
		return rc, err
	}, `SELECT message_id, recipient_id, contact_id, delivered_at, read_at FROM receipts
		WHERE message_id = ANY($1) ORDER BY message_id, recipient_id`, messageIDs)
	for _, rc := range rcs {
		out[rc.MessageID] = append(out[rc.MessageID], rc)
	}
	return out, err
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

func (db *DB) File(ctx context.Context, id string) (store.File, error) {
	return scanFile(db.pool.QueryRow(ctx, `SELECT `+fileCols+` FROM files WHERE id = $1`, id))
}

func (db *DB) CountFiles(ctx context.Context, contactID string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM files WHERE contact_id = $1 AND state <> $2`, contactID, store.FileRejected).Scan(&n)
	return n, err
}

func (db *DB) UnfinishedFiles(ctx context.Context) ([]store.File, error) {
	return collect(db, ctx, scanFile, `SELECT `+fileCols+` FROM files WHERE state IN ($1, $2) ORDER BY created_at`,
		store.FileUploaded, store.FileInProgress)
}

func (db *DB) ExpiredFiles(ctx context.Context, endedBefore time.Time, limit int) ([]store.File, error) {
	return collect(db, ctx, scanFile, `SELECT `+fileCols+` FROM files WHERE state <> $1 AND contact_id IN
		(SELECT id FROM contacts WHERE state = $2 AND ended_at < $3) LIMIT $4`,
		store.FileDeleted, store.ContactEnded, endedBefore.UnixMilli(), limit)
}

func (db *DB) Files(ctx context.Context, contactID string) ([]store.File, error) {
	return collect(db, ctx, scanFile, `SELECT `+fileCols+` FROM files WHERE contact_id = $1 ORDER BY created_at, id`, contactID)
}

func (db *DB) EndedContacts(ctx context.Context, after, before time.Time) ([]string, error) {
	return collect(db, ctx, func(row rowScanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM contacts WHERE state = 'ENDED' AND ended_at >= $1 AND ended_at < $2 ORDER BY ended_at, id`,
		after.UnixMilli(), before.UnixMilli())
}

func (db *DB) Tombstone(ctx context.Context, contactID string) (store.Tombstone, error) {
	t := store.Tombstone{ContactID: contactID}
	var at int64
	err := db.pool.QueryRow(ctx, `SELECT erased_at, reason FROM erasures WHERE contact_id = $1`, contactID).Scan(&at, &t.Reason)
	t.At = time.UnixMilli(at)
	return t, notFound(err)
}

// Scrub vacuums the tables erasure deletes from, so that their dead rows'
// space is reclaimed and reused. PostgreSQL does not overwrite it at once,
// and its WAL and backups keep old versions until they are recycled.
func (db *DB) Scrub(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `VACUUM receipts, items, files, connection_tokens, idempotency, participants, contacts`)
	return err
}

func (db *DB) AbandonedFiles(ctx context.Context, createdBefore time.Time, limit int) ([]store.File, error) {
	return collect(db, ctx, scanFile, `SELECT `+fileCols+` FROM files WHERE state IN ('PENDING', 'RECEIVING', 'UPLOADED') AND created_at < $1
		ORDER BY created_at LIMIT $2`, createdBefore.UnixMilli(), limit)
}

func (db *DB) FilesConfig(ctx context.Context, instanceID, scope string) (store.FilesConfig, error) {
	fc := store.FilesConfig{InstanceID: instanceID, Scope: scope}
	var exts string
	var modified int64
	err := db.pool.QueryRow(ctx, `SELECT max_bytes, extensions, modified_at FROM attached_files_config
		WHERE instance_id = $1 AND scope = $2`, instanceID, scope).Scan(&fc.MaxBytes, &exts, &modified)
	if err != nil {
		return fc, notFound(err)
	}
	fc.ModifiedAt = fromMS(modified)
	return fc, json.Unmarshal([]byte(exts), &fc.Extensions)
}

func (db *DB) AgentByKey(ctx context.Context, keyHash string) (store.Agent, error) {
	var a store.Agent
	var created int64
	err := db.pool.QueryRow(ctx, `SELECT id, name, key_hash, created_at, status FROM agents WHERE key_hash = $1`, keyHash).
		Scan(&a.ID, &a.Name, &a.KeyHash, &created, &a.Status)
	a.CreatedAt = fromMS(created)
	return a, notFound(err)
}

func (db *DB) Agents(ctx context.Context) ([]store.Agent, error) {
	return collect(db, ctx, func(row rowScanner) (store.Agent, error) {
		var a store.Agent
		var created int64
		err := row.Scan(&a.ID, &a.Name, &a.KeyHash, &created, &a.Status)
		a.CreatedAt = fromMS(created)
		return a, err
	}, `SELECT id, name, key_hash, created_at, status FROM agents ORDER BY name`)
}

func (db *DB) QueuedContacts(ctx context.Context, q store.QueueQuery) ([]store.Contact, error) {
	// (created_at, id) orders the queue totally, so a page continues
	// exactly after the last contact of the one before.
	return collect(db, ctx, scanContact, `SELECT `+contactCols+` FROM contacts WHERE state = 'QUEUED' AND ($1 = '' OR flow_id = $1)
		AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4`, q.FlowID, ms(q.AfterCreated), q.AfterID, q.Limit)
}

func (db *DB) CountQueued(ctx context.Context, flowID string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM contacts WHERE state = 'QUEUED' AND ($1 = '' OR flow_id = $1)`, flowID).Scan(&n)
	return n, err
}

// pruneQueries delete up to a limit of rows older than a time. Chats keep
// their counters (contacts.last_seq), so deleting a chat's newest item
// takes no seq back.
var pruneQueries = []string{
	`DELETE FROM connection_tokens WHERE hash IN (SELECT hash FROM connection_tokens WHERE expires_at < $1 LIMIT $2)`,
	`DELETE FROM idempotency WHERE (scope, client_token) IN
		(SELECT scope, client_token FROM idempotency WHERE created_at < $1 LIMIT $2)`,
	`DELETE FROM items WHERE (contact_id, seq) IN (SELECT contact_id, seq FROM items WHERE NOT in_transcript AND at < $1 LIMIT $2)`,
}

// contactsDue appends to due, as deadlines of kind, the contacts q claims:
// each row an id and when it fell due.
func contactsDue(ctx context.Context, tx pgx.Tx, due []store.Due, kind, q string, args ...any) ([]store.Due, error) {
	rows, err := tx.Query(ctx, q, args...)
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

// ClaimDue claims in a transaction of its own, with FOR UPDATE SKIP LOCKED:
// processes sweeping at once each take different rows and never wait for
// one another, nor for a batch that holds a chat's row (that chat is
// claimed at the next sweep).
func (db *DB) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Due, error) {
	var due []store.Due
	at, until := ms(now), ms(now.Add(lease))
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		due, err = contactsDue(ctx, tx, nil, store.DueExpiry, `UPDATE contacts SET claimed_until = $2 WHERE id IN (
				SELECT id FROM contacts WHERE state <> 'ENDED' AND deadline <= $1 AND claimed_until <= $1
				ORDER BY deadline LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, deadline`, at, until, limit)
		if err != nil {
			return err
		}
		// A chat whose customer never connected, unless its expiry is due
		// too: the expiry ends it.
		due, err = contactsDue(ctx, tx, due, store.DueConnectBy, `UPDATE contacts SET claimed_until = $2 WHERE id IN (
				SELECT id FROM contacts WHERE connect_by > 0 AND connect_by <= $1 AND state <> 'ENDED'
					AND claimed_until <= $1 AND deadline > $1
				ORDER BY connect_by LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, connect_by`, at, until, limit)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE participants SET claimed_until = $2 WHERE id IN (
				SELECT id FROM participants
				WHERE ((idle_at > 0 AND idle_at <= $1) OR (disconnect_at > 0 AND disconnect_at <= $1))
					AND state = 'JOINED' AND claimed_until <= $1
				LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, contact_id, idle_at, disconnect_at`, at, until, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d store.Due
			var idleAt, disconnectAt int64
			if err := rows.Scan(&d.ParticipantID, &d.ContactID, &idleAt, &disconnectAt); err != nil {
				return err
			}
			d.Kind, d.At = store.DueIdle, fromMS(idleAt)
			if idleAt == 0 || idleAt > at {
				d.Kind, d.At = store.DueDisconnect, fromMS(disconnectAt)
			}
			due = append(due, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	return due, nil
}

// ClaimFiles claims with FOR UPDATE SKIP LOCKED, as ClaimDue does.
func (db *DB) ClaimFiles(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.File, error) {
	fs, err := collect(db, ctx, scanFile, `UPDATE files SET lease_until = $2 WHERE id IN (
			SELECT id FROM files WHERE state = 'IN_PROGRESS' AND lease_until <= $1
			ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+fileCols, ms(now), ms(now.Add(lease)), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim files: %w", err)
	}
	return fs, nil
}

// Prune deletes on the pool, not through the group committer: it locks
// only rows no change writes.
func (db *DB) Prune(ctx context.Context, p store.Prune) (int, error) {
	n := 0
	for i, before := range []time.Time{p.TokensExpiredBefore, p.IdempotencyBefore, p.EphemeralBefore} {
		if before.IsZero() {
			continue
		}
		tag, err := db.pool.Exec(ctx, pruneQueries[i], before.UnixMilli(), p.Limit)
		if err != nil {
			return n, err
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

func (db *DB) CannedResponses(ctx context.Context, instanceID string) ([]store.Canned, error) {
	return collect(db, ctx, func(row rowScanner) (store.Canned, error) {
		var c store.Canned
		var created int64
		err := row.Scan(&c.ID, &c.InstanceID, &c.Shortcut, &c.Text, &created)
		c.CreatedAt = fromMS(created)
		return c, err
	}, `SELECT id, instance_id, shortcut, text, created_at FROM canned_responses WHERE instance_id = $1 ORDER BY shortcut`, instanceID)
}

func (db *DB) ContactsWithAttribute(ctx context.Context, key, value string, limit int) ([]store.Contact, error) {
	// Attributes are JSON text (as in SQLite); a scan bounded by the limit:
	// the console asks for one customer's few chats.
	return collect(db, ctx, scanContact, `SELECT `+contactCols+` FROM contacts WHERE attributes LIKE '{%'
		AND (attributes::jsonb ->> $1) = $2 ORDER BY created_at DESC, id DESC LIMIT $3`, key, value, limit)
}

func (db *DB) SearchAgentMessages(ctx context.Context, agentID, text string, limit int) ([]store.AgentMessage, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(text) + "%"
	return collect(db, ctx, func(row rowScanner) (store.AgentMessage, error) {
		var m store.AgentMessage
		it, err := scanItem(extraScanner{row, &m.Customer})
		m.Item = it
		return m, err
	}, `SELECT `+prefixed("i", itemCols)+`, COALESCE((SELECT display_name FROM participants c
			WHERE c.contact_id = i.contact_id AND c.role = 'CUSTOMER' LIMIT 1), '')
		FROM items i WHERE i.type = 'MESSAGE' AND i.in_transcript AND i.content ILIKE $1 ESCAPE '\'
		AND i.contact_id IN (SELECT contact_id FROM participants WHERE agent_id = $2)
		ORDER BY i.at DESC, i.seq DESC LIMIT $3`, like, agentID, limit)
}

// extraScanner scans a row whose last columns follow what scanItem reads.
type extraScanner struct {
	row   rowScanner
	extra *string
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra)...) }
