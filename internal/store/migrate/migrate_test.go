package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/pgtest"
	"github.com/parleychat/parley/internal/store/postgres"
	"github.com/parleychat/parley/internal/store/sqlite"
	"github.com/parleychat/parley/internal/testfiles"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, nil))
}

var ctx = context.Background()

// deployment writes a SQLite deployment with chats live and ended,
// participants, tokens, messages and events, receipts, files in every
// state, an idempotency record, limits and an agent.
func deployment(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	apply := func(c *store.Change) {
		t.Helper()
		if _, err := db.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Truncate(time.Millisecond)
	apply(&store.Change{NewAgent: &store.Agent{ID: "ag", Name: "Grace", KeyHash: "kh", CreatedAt: now}})
	apply(&store.Change{FilesConfig: &store.FilesConfig{InstanceID: "i", Scope: "CHAT", MaxBytes: 1 << 20, Extensions: []string{"pdf"}, ModifiedAt: now}})
	for c := range 4 {
		id := fmt.Sprint("chat", c)
		apply(&store.Change{
			Idempotency: &store.Idempotency{Scope: "i", ClientToken: id, Response: []byte{0, 1, 2, byte(c)}},
			NewContact: &store.Contact{ID: id, InstanceID: "i", InitialContactID: id, State: store.ContactQueued,
				Attributes: map[string]string{"n": id}, CustomerAttributes: map[string]string{"page": "/"}, ContentTypes: []string{"text/plain"},
				CreatedAt: now, Deadline: now.Add(time.Hour)},
			NewParticipants: []store.Participant{{ID: "p" + id, ContactID: id, Role: "CUSTOMER", DisplayName: "Ada", TokenHash: "t" + id,
				State: store.ParticipantJoined, JoinedAt: now}},
			Tokens: []store.ConnectionToken{{Hash: "ct" + id, ParticipantID: "p" + id, Expires: now.Add(time.Hour)}},
		})
		apply(&store.Change{Acknowledge: []string{"p" + id}})
		for m := range 5 {
			apply(&store.Change{Items: []store.Item{
				{ID: fmt.Sprint(id, "m", m), ContactID: id, ParticipantID: "p" + id, ClientToken: fmt.Sprint("tok", m), Type: "MESSAGE",
					ContentType: "text/plain", Content: fmt.Sprintf("message %d of %s, with ünïcode and \"quotes\"", m, id), Role: "CUSTOMER", InTranscript: true},
				{ID: fmt.Sprint(id, "e", m), ContactID: id, ParticipantID: "p" + id, Type: "EVENT", ContentType: "application/vnd.amazonaws.connect.event.typing"},
			}})
		}
		apply(&store.Change{Receipts: []store.Receipt{{MessageID: id + "m0", RecipientID: "x", ContactID: id, Delivered: now}}})
		apply(&store.Change{NewFile: &store.File{ID: "f" + id, ContactID: id, ParticipantID: "p" + id, Name: "a.pdf",
			ContentType: "application/pdf", Size: 10, State: store.FilePending, CreatedAt: now}})
		if c%2 == 1 {
			apply(&store.Change{
				FileUpdates: []store.FileUpdate{{ID: "f" + id, From: store.FilePending, To: store.FileApproved, SHA256: "abc", At: now}},
				Leave:       []store.Leave{{ParticipantID: "p" + id, At: now}},
				End:         &store.End{ContactID: id, At: now, Reason: "CUSTOMER_DISCONNECT"},
			})
		}
	}
	apply(&store.Change{NewContact: &store.Contact{ID: "erased", InstanceID: "i", InitialContactID: "erased", State: store.ContactQueued,
		Attributes: map[string]string{}, ContentTypes: []string{"text/plain"}, CreatedAt: now, Deadline: now.Add(time.Hour)}})
	apply(&store.Change{Erase: &store.Tombstone{ContactID: "erased", At: now, Reason: "asked"}})
	return path
}

// TestCopy: every record reads back the same from PostgreSQL, and chats
// go on there with the next seq.
func TestCopy(t *testing.T) {
	path := deployment(t)
	url := pgtest.NewDatabase(t)
	rep, err := Copy(ctx, path, url)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["items"] != 40 || rep.Rows["contacts"] != 4 || rep.Chats != 4 {
		t.Errorf("report %+v", rep)
	}
	lite, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	same := func(what string, read func(store.Store) (any, error)) {
		t.Helper()
		a, errA := read(lite)
		b, errB := read(pg)
		if fmt.Sprintf("%+v %v", a, errA) != fmt.Sprintf("%+v %v", b, errB) {
			t.Errorf("%s:\nsqlite   %+v %v\npostgres %+v %v", what, a, errA, b, errB)
		}
	}
	for c := range 4 {
		id := fmt.Sprint("chat", c)
		same("contact "+id, func(s store.Store) (any, error) { return s.Contact(ctx, id) })
		same("transcript "+id, func(s store.Store) (any, error) { return s.Transcript(ctx, id, 0, true, 100) })
		same("items "+id, func(s store.Store) (any, error) { return s.ItemsFrom(ctx, id, 0, 100) })
		same("participant "+id, func(s store.Store) (any, error) { return s.Participant(ctx, "p"+id) })
		same("token "+id, func(s store.Store) (any, error) { return s.ConnectionToken(ctx, "ct"+id) })
		same("file "+id, func(s store.Store) (any, error) { return s.File(ctx, "f"+id) })
		same("receipts "+id, func(s store.Store) (any, error) { return s.Receipts(ctx, []string{id + "m0"}) })
		same("idempotency "+id, func(s store.Store) (any, error) { return s.Idempotency(ctx, "i", id) })
	}
	same("agent", func(s store.Store) (any, error) { return s.AgentByKey(ctx, "kh") })
	same("tombstone", func(s store.Store) (any, error) { return s.Tombstone(ctx, "erased") })
	same("files config", func(s store.Store) (any, error) { return s.FilesConfig(ctx, "i", "CHAT") })
	items, err := pg.Apply(ctx, &store.Change{RequireActive: "chat0", Items: []store.Item{{ID: "after", ContactID: "chat0", Type: "MESSAGE", InTranscript: true}}})
	if err != nil || items[0].Seq != 11 {
		t.Errorf("the next item on PostgreSQL: %+v, %v; want seq 11", items, err)
	}
	if _, err := pg.Apply(ctx, &store.Change{RequireActive: "chat1"}); !errors.Is(err, store.ErrEnded) {
		t.Errorf("an ended chat on PostgreSQL: %v", err)
	}
}

// TestCopyRefusesADatabaseInUse: a second copy into the same database is
// refused and changes nothing.
func TestCopyRefusesADatabaseInUse(t *testing.T) {
	path := deployment(t)
	url := pgtest.NewDatabase(t)
	if _, err := Copy(ctx, path, url); err != nil {
		t.Fatal(err)
	}
	pg, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, err := pg.Apply(ctx, &store.Change{Items: []store.Item{{ID: "new", ContactID: "chat0", Type: "MESSAGE", InTranscript: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(ctx, path, url); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("a second copy: %v, want ErrNotEmpty", err)
	}
	if items, _ := pg.Transcript(ctx, "chat0", 0, true, 100); len(items) != 6 {
		t.Errorf("%d transcript items after the refused copy, want 6", len(items))
	}
}

// TestCopyIsAllOrNothing: a row PostgreSQL refuses, in the last table
// copied, leaves the target database as empty as it was.
func TestCopyIsAllOrNothing(t *testing.T) {
	path := deployment(t)
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Not UTF-8: SQLite keeps it, PostgreSQL's text refuses it.
	if _, err := raw.Exec(`UPDATE agents SET name = x'ff00ff'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	url := pgtest.NewDatabase(t)
	_, err = Copy(ctx, path, url)
	if err == nil || !strings.Contains(err.Error(), "copying agents") {
		t.Fatalf("a copy with an agent PostgreSQL refuses: %v", err)
	}
	pg, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, err := pg.Contact(ctx, "chat0"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a failed copy, a contact is there: %v", err)
	}
}

// TestCopyStreams: a table is copied as it is read, not held in memory
// whole: a deployment's items can be many times the memory of the machine
// migrating it.
func TestCopyStreams(t *testing.T) {
	path := deployment(t)
	const n, size = 5000, 16000 // 80 MB of messages
	src, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := src.Query(`SELECT * FROM items LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "seq":
			exprs[i] = "1000 + n.i"
		case "id", "client_token":
			exprs[i] = "'bulk' || n.i"
		case "content":
			exprs[i] = fmt.Sprintf("printf('%%.%dc', 'x')", size)
		default:
			exprs[i] = "items." + c
		}
	}
	if _, err := src.Exec(fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
		INSERT INTO items (%s) SELECT %s FROM items, n WHERE items.id = 'chat0m0'`,
		n, strings.Join(cols, ", "), strings.Join(exprs, ", "))); err != nil {
		t.Fatal(err)
	}
	src.Close()

	// A collector starved of CPU (a loaded CI host) lets garbage pile up
	// to twice the live heap and more; a low GOGC keeps the peak near
	// what the copy holds, which is what this measures.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	peakHeap := testfiles.HeapPeak(5 * time.Millisecond)
	rep, err := Copy(ctx, path, pgtest.NewDatabase(t))
	peak := peakHeap()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows["items"] != 40+n {
		t.Fatalf("copied %d items, want %d", rep.Rows["items"], 40+n)
	}
	t.Logf("heap peak %d MB copying %d MB of items", peak>>20, n*size>>20)
	if peak > n*size/2 {
		t.Errorf("the heap reached %d MB copying %d MB of items", peak>>20, n*size>>20)
	}
}
