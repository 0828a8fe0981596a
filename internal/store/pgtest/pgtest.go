// Package pgtest gives tests a real PostgreSQL: one private server per test
// package, started by Main from TestMain, and one database per test, cloned
// from a template.
//
// The server is internal/pgserver's: Debian's binaries in a temp dir,
// reachable only through a unix socket (no TCP), run as the postgres OS
// user when root. PARLEY_TEST_DATABASE_URL points the tests at an
// external server instead; its user needs CREATEDB.
//
// The private server runs with fsync off: tests kill Parley, never the
// database server, so they do not need PostgreSQL's own durability, and a
// shared 2-core machine runs them several times faster. Benchmarks of
// durable writes set PARLEY_PG_FSYNC=on.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/pgserver"
)

var (
	mu       sync.Mutex
	baseURL  *url.URL // the server, with no database
	template string   // the database each test's database is cloned from
	missing  string   // why there is no server, when there is none
	counter  int
)

// Main starts a server (or uses PARLEY_TEST_DATABASE_URL), prepares the
// template database with prepare (nil leaves it empty: e.g. run the
// migrations there once, rather than in every test), runs the tests and
// stops the server. Call it from TestMain: os.Exit(pgtest.Main(m, nil)).
func Main(m *testing.M, prepare func(url string) error) int {
	stop, err := start()
	if err != nil {
		missing = err.Error()
	} else if err := makeTemplate(prepare); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

// Available reports whether tests have a server.
func Available() bool { return baseURL != nil }

// NewDatabase creates a database for t from the template and returns its
// URL (as pgx parses it). The database is dropped when t ends. Without a
// server the test is skipped, except in CI (CI set), where it fails.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if baseURL == nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no PostgreSQL for the tests: %s", missing)
		}
		t.Skipf("no PostgreSQL for the tests (install postgresql or set PARLEY_TEST_DATABASE_URL): %s", missing)
	}
	mu.Lock()
	counter++
	name := fmt.Sprintf("%s_%d", template, counter)
	mu.Unlock()
	ctx := context.Background()
	if err := adminExec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		// FORCE ends connections a failed test left behind.
		adminExec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return dbURL(name)
}

func dbURL(name string) string {
	u := *baseURL
	u.Path = "/" + name
	return u.String()
}

// adminExec runs a statement on the server's maintenance database. CREATE
// DATABASE from one template is serialised: PostgreSQL refuses to copy a
// template that another session is copying.
func adminExec(ctx context.Context, sql string) error {
	mu.Lock()
	defer mu.Unlock()
	conn, err := pgx.Connect(ctx, baseURL.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func makeTemplate(prepare func(string) error) error {
	ctx := context.Background()
	template = "parley_t_" + strings.ToLower(rand.Text()[:10])
	if err := adminExec(ctx, `CREATE DATABASE `+template); err != nil {
		return err
	}
	if prepare != nil {
		if err := prepare(dbURL(template)); err != nil {
			return fmt.Errorf("preparing the template: %w", err)
		}
	}
	return nil
}

// start starts a private server, or connects to PARLEY_TEST_DATABASE_URL,
// and returns what stops it.
func start() (stop func(), err error) {
	if ext := os.Getenv("PARLEY_TEST_DATABASE_URL"); ext != "" {
		u, err := url.Parse(ext)
		if err != nil {
			return nil, fmt.Errorf("PARLEY_TEST_DATABASE_URL: %w", err)
		}
		baseURL = u
		return func() {
			// Databases of tests are dropped by their cleanups; the template
			// is this run's own.
			adminExec(context.Background(), `DROP DATABASE IF EXISTS `+template+` WITH (FORCE)`)
		}, nil
	}
	srv, err := pgserver.Start(pgserver.Options{Fsync: os.Getenv("PARLEY_PG_FSYNC") == "on"})
	if err != nil {
		return nil, err
	}
	baseURL = srv.URL
	return srv.Stop, nil
}
