package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/store/pgtest"
)

// The cluster's tables come with the migrations: a node can lease a socket
// before any node has shared the identity, and the first identity stored
// is the one every later node gets.
func TestClusterTablesComeWithTheMigrations(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, want := range []bool{true, false} {
		ok, err := db.AcquireSocket(ctx, "s"+string(rune('1'+i)), "p1", "n1", 1, time.Minute)
		if err != nil || ok != want {
			t.Fatalf("socket %d: %v, %v; want %v", i+1, ok, err, want)
		}
	}
	// A second process on the same database, as another node.
	db2, err := Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	for _, tc := range []struct {
		db              *DB
		candidate, want string
	}{{db, "first", "first"}, {db2, "second", "first"}} {
		got, err := tc.db.ShareIdentity(ctx, []byte(tc.candidate))
		if err != nil || string(got) != tc.want {
			t.Fatalf("ShareIdentity(%q) = %q, %v; want %q", tc.candidate, got, err, tc.want)
		}
	}
}

// TestSocketLeasesFoundByParticipant: every websocket opened in a cluster
// reads and deletes its participant's leases (AcquireSocket), under the
// participant's lock; with a node's worth of sockets leased, those reads
// must find the participant's rows by index, not scan every lease.
func TestSocketLeasesFoundByParticipant(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO parley_sockets (id, participant_id, node, expires_at)
			SELECT 's' || n, 'p' || n, 'n1', now() + interval '1 minute' FROM generate_series(1, 20000) AS n`,
		`ANALYZE parley_sockets`,
	} {
		if _, err := db.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`SELECT COUNT(*) FROM parley_sockets WHERE participant_id = 'p7'`,
		`DELETE FROM parley_sockets WHERE participant_id = 'p7' AND expires_at < now()`,
	} {
		var plan string
		if err := db.pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+q).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plan, `"Seq Scan"`) {
			t.Errorf("%s scans every lease:\n%s", q, plan)
		}
	}
}

// TestLeasesOfADeadNodeGo: a node that dies leaves its sockets' leases,
// which expire; a participant that never comes back never clears its own,
// so the renewals of the live nodes clear every expired one.
func TestLeasesOfADeadNodeGo(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{"p1", "p2"} {
		if ok, err := db.AcquireSocket(ctx, "dead-"+p, p, "dead", 5, time.Millisecond); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, err := db.AcquireSocket(ctx, "live", "p3", "live", 5, time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := db.RenewSockets(ctx, map[string]string{"live": "p3"}, "live", time.Minute); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, err := db.pool.Query(ctx, `SELECT id FROM parley_sockets ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if rows.Err() != nil || len(ids) != 1 || ids[0] != "live" {
		t.Errorf("leases after a live node's renewal: %v, %v; want only the live one", ids, rows.Err())
	}
}

// TestRenewalMakesLostLeasesAgain: a node cut off from the database for
// longer than a lease lives finds its leases cleared by the other nodes'
// renewals, though its sockets are open; its next renewal makes them
// again, so they count towards the limit of five and show the participant
// connected.
func TestRenewalMakesLostLeasesAgain(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.AcquireSocket(ctx, "s1", "p1", "n1", 5, time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	time.Sleep(10 * time.Millisecond)
	// Another node's renewal clears the expired lease.
	if err := db.RenewSockets(ctx, map[string]string{}, "n2", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.HasSocket(ctx, "p1"); ok || err != nil {
		t.Fatalf("HasSocket after the lease was cleared = %v, %v; want false", ok, err)
	}
	if err := db.RenewSockets(ctx, map[string]string{"s1": "p1"}, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.HasSocket(ctx, "p1"); !ok || err != nil {
		t.Fatalf("HasSocket after its node renewed = %v, %v; want true", ok, err)
	}
	// The renewed lease counts towards the participant's limit.
	if ok, err := db.AcquireSocket(ctx, "s2", "p1", "n2", 1, time.Minute); ok || err != nil {
		t.Fatalf("a second socket with a limit of one: %v, %v; want refused", ok, err)
	}
}
