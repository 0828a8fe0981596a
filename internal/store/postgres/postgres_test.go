package postgres

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/pgtest"
)

// The behaviour of this backend is tested by internal/store/storetest;
// these are its benchmarks. PARLEY_PG_FSYNC=on measures durable commits.

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, func(url string) error {
		db, err := Open(context.Background(), url, nil)
		if err != nil {
			return err
		}
		return db.Close()
	}))
}

const benchChats = 1000

func newChats(b *testing.B, db *DB) {
	now := time.Now()
	for i := range benchChats {
		id := fmt.Sprint("c", i)
		if _, err := db.Apply(context.Background(), &store.Change{NewContact: &store.Contact{ID: id, InstanceID: "i",
			InitialContactID: id, State: store.ContactQueued, Attributes: map[string]string{}, ContentTypes: []string{"text/plain"},
			CreatedAt: now, Deadline: now.Add(time.Hour)}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyConcurrent is SendMessage's write under load: 256
// concurrent one-message changes over 1,000 chats, each checking its chat
// is active and carrying a client token.
func BenchmarkApplyConcurrent(b *testing.B) {
	db, err := Open(context.Background(), pgtest.NewDatabase(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	newChats(b, db)
	var n atomic.Int64
	b.SetParallelism(128)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			c := fmt.Sprint("c", i%benchChats)
			tok := fmt.Sprint("t", i)
			if _, err := db.Apply(context.Background(), &store.Change{RequireActive: c, Items: []store.Item{{ID: tok, ContactID: c,
				ParticipantID: "p" + c, ClientToken: tok, Type: "MESSAGE", ContentType: "text/plain", Content: "hello " + tok,
				Role: "CUSTOMER", InTranscript: true}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkBaselineBatchedInsert is what bounds the backend: 64 messages a
// transaction, from 4 connections at once, with the chats' seq counters
// bumped under their row locks and the items inserted in one statement; no
// Parley code in between.
func BenchmarkBaselineBatchedInsert(b *testing.B) {
	url := pgtest.NewDatabase(b)
	db, err := Open(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	newChats(b, db)
	db.Close()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	const batch = 64
	var n atomic.Int64
	b.SetParallelism(2) // 2 per CPU: 4 writers here
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			base := n.Add(batch)
			ids, seqs, contacts := make([]string, batch), make([]int64, batch), make([]string, batch)
			for i := range batch {
				ids[i] = fmt.Sprint("b", base+int64(i))
				contacts[i] = fmt.Sprint("c", (base+int64(i))%benchChats)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			rows, err := tx.Query(ctx, `SELECT id, last_seq FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, contacts)
			if err != nil {
				b.Fatal(err)
			}
			next := map[string]int64{}
			for rows.Next() {
				var id string
				var last int64
				rows.Scan(&id, &last)
				next[id] = last
			}
			rows.Close()
			for i, c := range contacts {
				next[c]++
				seqs[i] = next[c]
			}
			var cs []string
			var ls []int64
			for c, l := range next {
				cs, ls = append(cs, c), append(ls, l)
			}
			if _, err := tx.Exec(ctx, `UPDATE contacts SET last_seq = v.l FROM unnest($1::text[], $2::bigint[]) AS v(c, l)
				WHERE contacts.id = v.c`, cs, ls); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO items (contact_id, seq, id, participant_id, client_token, type, content_type,
				content, display_name, role, at, in_transcript)
				SELECT c, s, i, 'p', i, 'MESSAGE', 'text/plain', 'hello', '', 'CUSTOMER', 0, true
				FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(c, s, i) ON CONFLICT DO NOTHING`, contacts, seqs, ids); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
}

// TestMigrationAddsCustomerColumns: a contact written before CustomerId and
// SegmentAttributes were kept reads back without them.
func TestMigrationAddsCustomerColumns(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the schema before 0006_customer, with a contact in it.
	for _, q := range []string{
		`ALTER TABLE contacts DROP COLUMN customer_id, DROP COLUMN segment_attributes`,
		`DELETE FROM schema_migrations WHERE version = '0006_customer'`,
		`INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, created_at, deadline)
			VALUES ('old', 'i', 'old', '', '', 'QUEUED', '{}', '[]', 1, 9999999999999)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			pool.Close()
			t.Fatal(err)
		}
	}
	pool.Close()

	db, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := db.Contact(ctx, "old")
	if err != nil || c.CustomerID != "" || c.SegmentAttributes != nil {
		t.Errorf("contact from before the migration: %+v, %v", c, err)
	}
}
