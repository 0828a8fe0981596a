// Package pgtest gives tests a real PostgreSQL: one private server per test
// package, started by Main from TestMain, and one database per test, cloned
// from a template.
//
// The server runs from Debian's binaries (/usr/lib/postgresql/N/bin, or
// PARLEY_PG_BIN) in a temp dir, reachable only through a unix socket in that
// dir (no TCP). initdb refuses to run as root, so as root the server runs
// as the postgres OS user. PARLEY_TEST_DATABASE_URL points the tests at an
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
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
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
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-pg-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	root := os.Geteuid() == 0
	run := func(name string, args ...string) error {
		cmdArgs := append([]string{filepath.Join(bin, name)}, args...)
		if root {
			cmdArgs = append([]string{"runuser", "-u", "postgres", "--"}, cmdArgs...)
		}
		cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	fail := func(err error) (func(), error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if root {
		if err := exec.Command("chown", "postgres:", dir).Run(); err != nil {
			return fail(fmt.Errorf("chown %s to postgres: %w", dir, err))
		}
	}
	if err := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return fail(err)
	}
	fsync := "off"
	if os.Getenv("PARLEY_PG_FSYNC") == "on" {
		fsync = "on"
	}
	conf := fmt.Sprintf(`
listen_addresses = ''
unix_socket_directories = '%s'
fsync = %s
full_page_writes = %[2]s
synchronous_commit = on
max_connections = 300
shared_buffers = 32MB
`, dir, fsync)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fail(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fail(fmt.Errorf("%w\n%s", err, log))
	}
	// A test binary that panics or is killed never runs stop: a watchdog
	// process stops the server and removes the dir once this process is gone.
	pgCtl := filepath.Join(bin, "pg_ctl")
	if root {
		pgCtl = "runuser -u postgres -- " + pgCtl
	}
	watchdog := exec.Command("sh", "-c", fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done; %s -D '%s' -m immediate stop >/dev/null 2>&1; rm -rf '%s'`,
		os.Getpid(), pgCtl, data, dir))
	if err := watchdog.Start(); err == nil {
		go watchdog.Wait()
	}
	baseURL = &url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}}.Encode()}
	return func() {
		run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
		if watchdog.Process != nil {
			watchdog.Process.Kill()
		}
	}, nil
}

// binDir finds PostgreSQL's server binaries.
func binDir() (string, error) {
	if d := os.Getenv("PARLEY_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("initdb not found in /usr/lib/postgresql/*/bin or $PATH")
}

func version(binDir string) int {
	var v int
	fmt.Sscan(filepath.Base(filepath.Dir(binDir)), &v)
	return v
}
