package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/store/pgtest"
)

// TestWriterPlansUseKeys checks that the group committer's lock reads find
// their rows by primary key with the generic plans its prepared statements
// get, on tables as small as the figures' (a thousand chats and
// participants), where the planner would otherwise scan the whole table
// once a batch and compare every row with every id.
func TestWriterPlansUseKeys(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO contacts (id, instance_id, initial_contact_id, flow_id, queue_id, state, attributes, content_types, created_at, deadline)
			SELECT 'c' || n, 'i', 'c' || n, 'f', 'q', 'CONNECTED', '{}', '["text/plain"]', 1, 2 FROM generate_series(1, 1000) AS n`,
		`INSERT INTO participants (id, contact_id, role, display_name, token_hash, state, joined_at)
			SELECT 'p' || n, 'c' || n, 'CUSTOMER', 'c', 'h' || n, 'JOINED', 1 FROM generate_series(1, 1000) AS n`,
		`ANALYZE contacts, participants`,
	} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.w.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	// EXPLAIN EXECUTE shows the generic plan (EXPLAIN of a statement with
	// parameters would plan it for the values given).
	for i, c := range []struct{ table, query string }{
		{"contacts", `SELECT id, state, last_seq, last_at, active_streams FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`},
		{"participants", `SELECT p.id, p.contact_id, p.role, p.state, p.idle, p.idle_at, p.disconnect_at, c.timers
			FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.id = ANY($1)`},
	} {
		name := fmt.Sprint("plan", i)
		if _, err := conn.Exec(ctx, `PREPARE `+name+`(text[]) AS `+c.query); err != nil {
			t.Fatal(err)
		}
		var plan string
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+`('{c1,c2,c3,p1,p2,p3}')`, pgx.QueryExecModeSimpleProtocol).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plan, `"Seq Scan"`) {
			t.Errorf("the %s lock read scans a table:\n%s", c.table, plan)
		}
	}
}
