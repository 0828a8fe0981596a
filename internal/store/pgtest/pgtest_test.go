package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) {
	os.Exit(Main(m, func(url string) error {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), `CREATE TABLE t (v TEXT)`)
		return err
	}))
}

// TestDatabasesAreClonedAndSeparate: every test database has what the
// template was prepared with, and nothing another test database holds.
func TestDatabasesAreClonedAndSeparate(t *testing.T) {
	ctx := context.Background()
	var conns []*pgx.Conn
	for range 2 {
		conn, err := pgx.Connect(ctx, NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		conns = append(conns, conn)
	}
	if _, err := conns[0].Exec(ctx, `INSERT INTO t VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conns[1].QueryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 0 {
		t.Errorf("second database: %d rows, %v; want an empty table t", n, err)
	}
	var host string
	if err := conns[0].QueryRow(ctx, `SELECT current_setting('listen_addresses')`).Scan(&host); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PARLEY_TEST_DATABASE_URL") == "" && host != "" {
		t.Errorf("the private server listens on %q; want no TCP", host)
	}
}
