package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/server"

	"github.com/parleychat/parley/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	os.Exit(pgtest.Main(m, nil))
}

// TestMigrateCommand: parley migrate copies the data dir's database into
// PostgreSQL, where the agents command then finds what was there; without
// a target or a database to copy it says so.
func TestMigrateCommand(t *testing.T) {
	dir, url := t.TempDir(), pgtest.NewDatabase(t)
	vars := map[string]string{"PARLEY_DATA_DIR": dir}
	env := func(k string) string { return vars[k] }
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(args, env, &out, &out)
		return out.String(), err
	}
	if _, err := cmd("migrate", "-database-url", url); err == nil || !strings.Contains(err.Error(), "no SQLite database") {
		t.Errorf("migrate without a database: %v", err)
	}
	if _, err := cmd("agent", "add", "Grace"); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd("migrate"); err == nil || !strings.Contains(err.Error(), "PARLEY_DATABASE_URL") {
		t.Errorf("migrate without a target: %v", err)
	}
	out, err := cmd("migrate", "-database-url", url)
	if err != nil || !strings.Contains(out, "1 agents") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	vars["PARLEY_DATABASE_URL"] = url
	if list, err := cmd("agent", "list"); err != nil || !strings.Contains(list, "\nGrace\t") || !strings.Contains(list, "PostgreSQL") {
		t.Errorf("agent list on PostgreSQL: %q, %v", list, err)
	}
	if _, err := cmd("migrate"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second migrate: %v", err)
	}
}

// TestAgentCommands: add, list, rotate-key and remove, as an operator runs
// them; list never prints a key.
func TestAgentCommands(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string { return map[string]string{"PARLEY_DATA_DIR": dir}[k] }
	var said bytes.Buffer
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append([]string{"agent"}, args...), env, &out, &said)
		return out.String(), err
	}
	added, err := cmd("add", "Grace")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(strings.SplitN(strings.SplitN(added, "\n\n", 3)[1], "\n", 2)[0])
	if len(key) < 40 {
		t.Fatalf("add printed %q", added)
	}
	if _, err := cmd("add", "Alan", "-data-dir", dir); err != nil {
		t.Fatal(err)
	}
	list, err := cmd("list")
	if err != nil || !strings.HasPrefix(list, "Alan\t") || !strings.Contains(list, "\nGrace\t") || strings.Contains(list, key) ||
		!regexp.MustCompile(`\tid [0-9a-f-]{36}\n`).MatchString(list) {
		t.Errorf("list: %q, %v", list, err)
	}
	rotated, err := cmd("rotate-key", "Grace")
	if err != nil || strings.Contains(rotated, key) || !strings.Contains(rotated, "new sign-in key") {
		t.Errorf("rotate-key: %q, %v", rotated, err)
	}
	if out, err := cmd("remove", "Grace"); err != nil || !strings.Contains(out, "removed") {
		t.Errorf("remove: %q, %v", out, err)
	}
	if list, _ := cmd("list"); strings.Contains(list, "Grace") {
		t.Errorf("a removed agent is listed: %q", list)
	}
	if !strings.Contains(said.String(), "Agents of the data dir "+dir) {
		t.Errorf("the commands do not say which data they act on: %q", said.String())
	}
	for _, bad := range [][]string{{}, {"remove"}, {"rotate-key", "-data-dir", dir}, {"fire", "Alan"}, {"remove", "Nobody"}} {
		if _, err := cmd(bad...); err == nil {
			t.Errorf("agent %v succeeded", bad)
		}
	}
}

// TestDataFlags: the commands run beside the server take -data-dir and
// -database-url over the environment, and say which data they act on
// without a database password.
func TestDataFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var d dataFlags
	d.register(fs)
	if err := fs.Parse([]string{"-data-dir", "/srv/p", "-database-url", "postgres://parley:s3cret@db.example/parley"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := d.config(func(k string) string {
		return map[string]string{"PARLEY_DATA_DIR": "/elsewhere", "PARLEY_DATABASE_URL": "postgres://other/db"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/srv/p" || cfg.DatabaseURL != "postgres://parley:s3cret@db.example/parley" {
		t.Errorf("data dir %q, database %q", cfg.DataDir, cfg.DatabaseURL)
	}
	said := server.DataSource(cfg)
	if strings.Contains(said, "s3cret") || !strings.Contains(said, "db.example/parley") {
		t.Errorf("DataSource = %q", said)
	}
}

// TestExportVerifyUsage: a flag where the archive goes gets the usage,
// not an attempt to open a file named after the flag.
func TestExportVerifyUsage(t *testing.T) {
	for _, args := range [][]string{{"export", "verify"}, {"export", "verify", "-h"}, {"export", "verify", "a.zip", "b.zip"}} {
		var out bytes.Buffer
		err := run(args, func(string) string { return "" }, &out, &out)
		if err == nil || err.Error() != "usage: parley export verify FILE" {
			t.Errorf("parley %s: %v, want the usage", strings.Join(args, " "), err)
		}
	}
}

// TestUsageNamesTheCommand: the commands that take the server's flags to
// find their deployment say their own name in -h, not "serve".
func TestUsageNamesTheCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "-h"}, "Usage of migrate:"},
		{[]string{"agent", "list", "-h"}, "Usage of agent list:"},
		{[]string{"backup", "dir", "-h"}, "Usage of backup:"},
	} {
		f, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = f // where the flag package writes usage
		var out bytes.Buffer
		err = run(tc.args, func(string) string { return "" }, &out, &out)
		os.Stderr = stderr
		f.Close()
		got, _ := os.ReadFile(f.Name())
		if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(string(got), tc.want) {
			t.Errorf("parley %s: %v, %.40q; want help beginning %q", strings.Join(tc.args, " "), err, got, tc.want)
		}
	}
}
