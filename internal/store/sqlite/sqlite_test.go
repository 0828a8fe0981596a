package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/secret"
	"github.com/parleychat/parley/internal/store"
)

func open(t testing.TB, hook store.CommitHook) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "parley.db"), hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newContact(t testing.TB, db *DB, id string) {
	t.Helper()
	now := time.Now()
	_, err := db.Apply(context.Background(), &store.Change{NewContact: &store.Contact{
		ID: id, InstanceID: "i", InitialContactID: id, State: store.ContactQueued, Attributes: map[string]string{},
		ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func item(contact, token string) store.Item {
	return store.Item{ID: contact + "/" + token, ContactID: contact, ParticipantID: "p-" + contact, ClientToken: token,
		Type: "MESSAGE", ContentType: "text/plain", Content: token, InTranscript: true}
}

// TestGroupCommit: many concurrent writers in two chats all commit, share
// transactions, get each chat's seqs from 1 without gaps, and the hook sees
// them in commit order.
func TestGroupCommit(t *testing.T) {
	var (
		mu      sync.Mutex
		hooked  = map[string][]int64{}
		batches int
	)
	db := open(t, func(items []store.Item) {
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, it := range items {
			hooked[it.ContactID] = append(hooked[it.ContactID], it.Seq)
		}
	})
	chats := []string{"c", "d"}
	for _, c := range chats {
		newContact(t, db, c)
	}
	const writers = 200
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := chats[i%2]
			if _, err := db.Apply(context.Background(), &store.Change{RequireActive: c, Items: []store.Item{item(c, fmt.Sprint(i))}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, c := range chats {
		seqs := hooked[c]
		if len(seqs) != writers/2 {
			t.Fatalf("hook saw %d items of %s, want %d", len(seqs), c, writers/2)
		}
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("chat %s: seqs out of commit order or with gaps: %v", c, seqs)
			}
		}
		items, err := db.Transcript(context.Background(), c, 0, true, 1000)
		if err != nil || len(items) != writers/2 {
			t.Fatalf("transcript: %d items, %v", len(items), err)
		}
		for i := 1; i < len(items); i++ {
			if items[i].Time.Before(items[i-1].Time) {
				t.Fatal("AbsoluteTime goes backward in commit order")
			}
		}
	}
	if batches >= writers {
		t.Errorf("%d commits for %d concurrent writers: no group commit", batches, writers)
	}
	t.Logf("%d writers committed in %d transactions", writers, batches)
}

// TestFailingChangeLeavesBatchIntact: one change failing inside a batch
// (a duplicate client token, an ended contact) fails alone and writes nothing.
// TestWriterStartsNoGoroutinePerWrite: committing a message costs the
// writer no goroutine (database/sql's Tx watched its context on one per
// transaction, and every Rows read in it on one more).
func TestWriterStartsNoGoroutinePerWrite(t *testing.T) {
	db := open(t, nil)
	newContact(t, db, "c")
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	const n = 200
	before := created()
	for i := range n {
		if _, err := db.Apply(context.Background(), &store.Change{RequireActive: "c", Items: []store.Item{item("c", fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	// The checkpointer's passes may start a few; a goroutine per write
	// or per transaction would be n or more.
	if got := created() - before; got >= n/4 {
		t.Errorf("%d goroutines started for %d writes", got, n)
	}
}

func TestFailingChangeLeavesBatchIntact(t *testing.T) {
	db := open(t, nil)
	ctx := context.Background()
	newContact(t, db, "c")
	newContact(t, db, "ended")
	if _, err := db.Apply(ctx, &store.Change{End: &store.End{ContactID: "ended", At: time.Now(), Reason: "API"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Apply(ctx, &store.Change{Items: []store.Item{item("c", "dup")}}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := &store.Change{RequireActive: "c", Items: []store.Item{item("c", fmt.Sprint("ok", i))}}
			switch i % 4 {
			case 1: // a duplicate client token, plus an item that must not be written with it
				d := item("c", "dup")
				d.ID = fmt.Sprint("dup-", i)
				ch.Items = append([]store.Item{item("c", fmt.Sprint("partial", i))}, d)
			case 2:
				ch.RequireActive = "ended"
			case 3: // a message to the ended chat: the check rides on its seq update
				ch.RequireActive, ch.Items = "ended", []store.Item{item("ended", fmt.Sprint("late", i))}
			}
			_, errs[i] = db.Apply(ctx, ch)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		want := []error{nil, store.ErrDuplicate, store.ErrEnded, store.ErrEnded}[i%4]
		if !errors.Is(err, want) {
			t.Errorf("change %d: %v, want %v", i, err, want)
		}
	}
	items, _ := db.Transcript(ctx, "c", 0, true, 1000)
	if len(items) != 9 { // "dup" and the eight good ones
		t.Errorf("%d items stored, want 9 (nothing of a failed change)", len(items))
	}
	if items, _ := db.Transcript(ctx, "ended", 0, true, 1000); len(items) != 0 {
		t.Errorf("%d items stored in the ended chat", len(items))
	}
	if _, err := db.Apply(ctx, &store.Change{End: &store.End{ContactID: "ended", At: time.Now()}}); !errors.Is(err, store.ErrEnded) {
		t.Errorf("ending an ended contact: %v", err)
	}
}

func TestReopenKeepsSequence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	newContact(t, db, "c")
	first, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item("c", "a")}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	second, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item("c", "b")}})
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Seq != first[0].Seq+1 || second[0].Time.Before(first[0].Time) {
		t.Errorf("after reopening, seq %d/time %v does not follow %d/%v", second[0].Seq, second[0].Time, first[0].Seq, first[0].Time)
	}
}

// TestMigrationNumbersItemsPerChat: a database written with one global
// seq gets each chat's items numbered from 1 in their old order, and the
// chats' counters continue from there.
func TestMigrationNumbersItemsPerChat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	slices.Sort(names)
	must := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	must(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)`)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= "0009" {
			break
		}
		body, _ := migrations.ReadFile(name)
		must(string(body))
		must(`INSERT INTO schema_migrations VALUES (?)`, version)
	}
	for _, c := range []string{"a", "b", "empty"} {
		must(`INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, created_at, deadline)
			VALUES (?, 'i', ?, '', '', 'QUEUED', '{}', '[]', 1, 9999999999999)`, c, c)
	}
	// Global seqs interleave the chats; times rise with seq.
	for i, c := range []string{"a", "b", "a", "a", "b"} {
		must(`INSERT INTO items (seq, id, contact_id, participant_id, client_token, type, content_type, content, display_name, role, at, in_transcript)
			VALUES (?, ?, ?, 'p', '', 'MESSAGE', 'text/plain', ?, '', 'CUSTOMER', ?, 1)`, 10+i, fmt.Sprint("m", i), c, fmt.Sprint(i), 1000+i)
	}
	raw.Close()

	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	want := map[string][]string{"a": {"0", "2", "3"}, "b": {"1", "4"}}
	for c, contents := range want {
		items, err := db.Transcript(ctx, c, 0, true, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range items {
			if it.Seq != int64(i+1) || it.Content != contents[i] {
				t.Errorf("chat %s item %d: seq %d content %q, want %d %q", c, i, it.Seq, it.Content, i+1, contents[i])
			}
		}
		got, err := db.Apply(ctx, &store.Change{Items: []store.Item{item(c, "new")}})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Seq != int64(len(contents)+1) || got[0].Time.Before(items[len(items)-1].Time) {
			t.Errorf("chat %s: new item seq %d at %v after %d items", c, got[0].Seq, got[0].Time, len(contents))
		}
	}
	got, err := db.Apply(ctx, &store.Change{Items: []store.Item{item("empty", "first")}})
	if err != nil || got[0].Seq != 1 {
		t.Errorf("first item of a chat without items: %v, %v", got, err)
	}
}

// TestMigrationAddsCustomerColumns: a contact written before CustomerId and
// SegmentAttributes were kept reads back without them.
func TestMigrationAddsCustomerColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	slices.Sort(names)
	must := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	must(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)`)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if version >= "0017" {
			break
		}
		body, _ := migrations.ReadFile(name)
		must(string(body))
		must(`INSERT INTO schema_migrations VALUES (?)`, version)
	}
	must(`INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, created_at, deadline)
		VALUES ('old', 'i', 'old', '', '', 'QUEUED', '{}', '[]', 1, 9999999999999)`)
	raw.Close()

	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Contact(context.Background(), "old")
	if err != nil || c.CustomerID != "" || c.SegmentAttributes != nil {
		t.Errorf("contact from before the migration: %+v, %v", c, err)
	}
}

// BenchmarkApplyConcurrent measures durable single-message writes with many
// concurrent writers, the shape of SendMessage under load.
func BenchmarkApplyConcurrent(b *testing.B) {
	db := open(b, nil)
	newContact(b, db, "c")
	var n int64
	var mu sync.Mutex
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			tok := fmt.Sprint(n)
			mu.Unlock()
			if _, err := db.Apply(context.Background(), &store.Change{RequireActive: "c", Items: []store.Item{item("c", tok)}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHotQueriesUseIndexes guards against a lookup that scans a table: each
// costs nothing on a new database and everything on a busy one.
func TestHotQueriesUseIndexes(t *testing.T) {
	db := open(t, nil)
	queries := map[string]string{
		"item by client token": `SELECT seq FROM items WHERE participant_id = 'p' AND client_token = 't' AND client_token != ''`,
		"transcript forward":   `SELECT seq FROM items WHERE contact_id = 'c' AND in_transcript AND seq >= 5 ORDER BY seq ASC LIMIT 10`,
		"chat counter":         `UPDATE contacts SET last_seq = last_seq + 1 WHERE id = 'c'`,
		"item by id":           `SELECT seq FROM items WHERE id = 'x' AND contact_id = 'c'`,
		"transcript backward":  `SELECT seq FROM items WHERE contact_id = 'c' AND in_transcript AND seq <= 5 ORDER BY seq DESC LIMIT 10`,
		"transcript by time":   `SELECT seq FROM items WHERE contact_id = 'c' AND in_transcript AND at >= 5 ORDER BY seq ASC LIMIT 1`,
		"connection token":     `SELECT participant_id FROM connection_tokens WHERE hash = 'h'`,
		"participant by token": `SELECT id FROM participants WHERE token_hash = 'h'`,
		"participants of chat": `SELECT id FROM participants WHERE contact_id = 'c'`,
		"files of chat":        `SELECT COUNT(*) FROM files WHERE contact_id = 'c' AND state != 'REJECTED'`,
	}
	for name, q := range queries {
		rows, err := db.r.Query(`EXPLAIN QUERY PLAN ` + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "USING") {
				t.Errorf("%s scans a table: %v", name, plan)
			}
		}
	}
}

// BenchmarkApplyLatency offers the latency figure's load to the store
// alone: 2,000 one-item changes a second over 1,000 chats. It reports the
// p50 and p99 of Apply, which is most of a SendMessage's delivery latency.
func BenchmarkApplyLatency(b *testing.B) {
	db := open(b, nil)
	const chats, rate = 1000, 2000
	for i := range chats {
		newContact(b, db, fmt.Sprint("c", i))
	}
	for round := 0; b.Loop(); round++ {
		const total = rate * 3
		took := make([]time.Duration, total)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range total {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := fmt.Sprint("c", i%chats)
				t0 := time.Now()
				if _, err := db.Apply(context.Background(), &store.Change{RequireActive: c, Items: []store.Item{item(c, fmt.Sprint(round, "-", i))}}); err != nil {
					b.Error(err)
				}
				took[i] = time.Since(t0)
			}()
		}
		wg.Wait()
		slices.Sort(took)
		b.ReportMetric(float64(took[total/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(took[total*99/100].Microseconds()), "p99-µs")
	}
}

// TestWALStartsOverUnderSteadyWrites: commits that never pause must not
// grow the WAL without bound. Passive checkpoints alone let it reach
// hundreds of MB here; restarting it keeps it near walRestartFrames.
func TestWALStartsOverUnderSteadyWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const chats = 500
	for i := range chats {
		newContact(t, db, fmt.Sprint("c", i))
	}
	var largest atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > largest.Load() {
				largest.Store(fi.Size())
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	deadline := time.Now().Add(4 * time.Second)
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				c := fmt.Sprint("c", (w*7+n)%chats)
				// Random tokens, as the AWS SDKs send, scatter the index.
				if _, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item(c, secret.NewUUID())}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	// The file keeps its largest extent between restarts: 16 MB of frames
	// plus what commits add before the writer restarts it (~50 MB here).
	const limit = 128 << 20
	t.Logf("largest WAL: %d MB", largest.Load()>>20)
	if largest.Load() > limit {
		t.Errorf("the WAL grew to %d MB under steady writes, want at most %d MB", largest.Load()>>20, limit>>20)
	}
}

// TestWALRestartDoesNotWaitForReaders: a reader that holds the WAL (here an
// open result set) must not stall the writer's restart of a long WAL, and
// with it every commit, for the busy timeout.
func TestWALRestartDoesNotWaitForReaders(t *testing.T) {
	db := open(t, nil)
	newContact(t, db, "c")
	if _, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item("c", "a")}}); err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.Query(`SELECT seq FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no row")
	}
	// A commit after the reader's snapshot, so that the reader holds frames
	// a restart would have to wait for.
	if _, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item("c", "b")}}); err != nil {
		t.Fatal(err)
	}
	db.walLong.Store(true)
	t0 := time.Now()
	for _, tok := range []string{"c1", "c2"} { // the restart runs after the first
		if _, err := db.Apply(context.Background(), &store.Change{Items: []store.Item{item("c", tok)}}); err != nil {
			t.Fatal(err)
		}
	}
	// A restart that waited for the reader would take the busy timeout
	// (10 s); 5 s leaves room for a loaded disk and the race detector.
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("two commits took %v beside a reader", d)
	}
}

// TestEphemeralItems: an item not in the transcript reaches the commit hook
// whole but is stored without its content, and Prune deletes it once old;
// the chat's counter keeps its seqs from being used again.
func TestEphemeralItems(t *testing.T) {
	ctx := context.Background()
	var hooked []store.Item
	db := open(t, func(items []store.Item) { hooked = append(hooked, items...) })
	newContact(t, db, "c")
	typing := store.Item{ID: "typing", ContactID: "c", ParticipantID: "p", ClientToken: "t1", Type: "EVENT",
		ContentType: "application/vnd.amazonaws.connect.event.typing", Content: strings.Repeat("x", 1000)}
	last := typing
	last.ID, last.ClientToken = "last", "t2"
	if _, err := db.Apply(ctx, &store.Change{Items: []store.Item{typing, last}}); err != nil {
		t.Fatal(err)
	}
	if len(hooked) != 2 || hooked[0].Content != typing.Content {
		t.Fatalf("the hook got %+v, want the typing event with its content", hooked)
	}
	stored, err := db.ItemByClientToken(ctx, "p", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Content != "" {
		t.Errorf("an ephemeral item's content was stored (%d bytes)", len(stored.Content))
	}
	n, err := db.Prune(ctx, store.Prune{EphemeralBefore: time.Now().Add(time.Hour), Limit: 10})
	if err != nil || n != 2 {
		t.Fatalf("Prune: %d, %v; want 2 items", n, err)
	}
	if _, err := db.ItemByClientToken(ctx, "p", "t1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old ephemeral item: %v, want pruned", err)
	}
	next, err := db.Apply(ctx, &store.Change{Items: []store.Item{item("c", "after")}})
	if err != nil || next[0].Seq != 3 {
		t.Errorf("the item after pruning: %+v, %v; want seq 3", next, err)
	}
}

// TestMergeAttributesAndRoleCheck: Change.Attributes merges inside the
// transaction and refuses a result over MaxBytes; Change.RequireNoJoined
// refuses a change while a participant of a named role is joined. A refused
// change writes nothing.
func TestMergeAttributesAndRoleCheck(t *testing.T) {
	ctx := context.Background()
	db := open(t, nil)
	newContact(t, db, "c")
	merge := func(set map[string]string, max int) error {
		_, err := db.Apply(ctx, &store.Change{Attributes: &store.MergeAttributes{ContactID: "c", Set: set, MaxBytes: max}})
		return err
	}
	if err := merge(map[string]string{"a": "1", "b": "2"}, 100); err != nil {
		t.Fatal(err)
	}
	if err := merge(map[string]string{"b": "3"}, 100); err != nil {
		t.Fatal(err)
	}
	if err := merge(map[string]string{"c": "12345"}, 9); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("over MaxBytes with the kept attributes: %v, want ErrTooLarge", err)
	}
	if _, err := db.Apply(ctx, &store.Change{Attributes: &store.MergeAttributes{ContactID: "nope", Set: map[string]string{"a": "1"}, MaxBytes: 9}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown contact: %v, want ErrNotFound", err)
	}
	k, err := db.Contact(ctx, "c")
	if err != nil || len(k.Attributes) != 2 || k.Attributes["a"] != "1" || k.Attributes["b"] != "3" {
		t.Fatalf("attributes = %v, %v", k.Attributes, err)
	}

	bot := store.Participant{ID: "bot", ContactID: "c", Role: "CUSTOM_BOT", TokenHash: "h1", State: store.ParticipantJoined, JoinedAt: time.Now()}
	check := &store.RoleCheck{ContactID: "c", Roles: []string{"AGENT", "CUSTOM_BOT"}}
	if _, err := db.Apply(ctx, &store.Change{RequireNoJoined: check, NewParticipants: []store.Participant{bot}}); err != nil {
		t.Fatal(err)
	}
	second := bot
	second.ID, second.TokenHash = "bot2", "h2"
	if _, err := db.Apply(ctx, &store.Change{RequireNoJoined: check, NewParticipants: []store.Participant{second}}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second bot: %v, want ErrConflict", err)
	}
	if _, err := db.Participant(ctx, "bot2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused change wrote its participant: %v", err)
	}
	if _, err := db.Apply(ctx, &store.Change{Leave: []store.Leave{{ParticipantID: "bot", At: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Apply(ctx, &store.Change{RequireNoJoined: check, NewParticipants: []store.Participant{second}}); err != nil {
		t.Errorf("a bot after the first left: %v", err)
	}
}

// TestReaderPageCacheIsSmall: each reading connection's page cache, and
// its temp database's, is readerCacheKiB, not SQLite's 2 MB default: WAL
// mode empties the first whenever another connection has committed, and
// eight full ones held 16 MB after a quiet spell of reads (issue 17). The
// writer keeps the default.
func TestReaderPageCacheIsSmall(t *testing.T) {
	db := open(t, nil)
	ctx := context.Background()
	// Every reading connection, not just the one the pool hands out first.
	var conns []*sql.Conn
	for range 3 {
		c, err := db.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		for _, pragma := range []string{"cache_size", "temp.cache_size"} {
			var kib int
			if err := c.QueryRowContext(ctx, `PRAGMA `+pragma).Scan(&kib); err != nil {
				t.Fatal(err)
			}
			if kib != -readerCacheKiB {
				t.Errorf("reader %d: %s %d, want %d", i, pragma, kib, -readerCacheKiB)
			}
		}
	}
	// The writer keeps SQLite's default cache: its one connection is the
	// writer goroutine's for the store's life (writeTx), so it is not
	// asked here.
}
