// Command parley runs the Parley chat server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/audit"
	"github.com/parleychat/parley/internal/bench"
	"github.com/parleychat/parley/internal/chatcli"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/obs"
	"github.com/parleychat/parley/internal/server"
	"github.com/parleychat/parley/internal/store/migrate"
)

const usage = `Parley: a self-hostable chat server that speaks the Amazon Connect
Participant Service and Connect chat APIs.

Usage:
  parley serve [flags]       run the server (parley serve -h lists the flags)
  parley chat COMMAND ...    start, join and talk in a chat (parley chat help)
  parley agent add NAME      create an agent for the console at /agent
  parley agent list          list the console's agents
  parley agent remove NAME   delete an agent; its key stops working at once
  parley agent rotate-key NAME  give an agent a new key; the old one stops working
  parley backup DIR          copy the data dir's database, identity and attachments to DIR while serving
  parley restore DIR         bring a backup back into an empty data dir
  parley export -contact-id ID | -ended-after T -ended-before T  [-o FILE]
                             write an audit archive of a contact, or of a period (RFC 3339)
  parley export verify FILE  recompute an archive's digests
  parley erase -contact-id ID [-reason TEXT]
                             delete everything of a contact, leaving a tombstone
  parley migrate -database-url postgres://…  [-data-dir DIR]
                             copy a stopped SQLite deployment into an empty PostgreSQL database
  parley bench [flags]       measure Parley against baselines (parley bench -h)
`

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "parley:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, env config.Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		cfg, err := config.Parse(args[1:], env)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		log, err := obs.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
		if err != nil {
			return err
		}
		return server.Run(ctx, cfg, log, stdout)
	case "chat":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return chatcli.Run(ctx, args[1:], stdout, stderr, env)
	case "agent":
		return agentCommand(args[1:], env, stdout, stderr)
	case "backup", "restore":
		return backupCommand(args[0], args[1:], env, stdout)
	case "export":
		return exportCommand(args[1:], env, stdout)
	case "erase":
		return eraseCommand(args[1:], env, stdout)
	case "migrate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return migrateCommand(ctx, args[1:], env, stdout)
	case "bench":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if len(args) > 1 && args[1] == "baseline" { // the baseline server bench starts
			return bench.ServeBaseline(ctx, env("PARLEY_BENCH_DIR"), stdout)
		}
		o := bench.DefaultOptions()
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.IntVar(&o.UploadMB, "upload-mb", o.UploadMB, "attachment size, MB")
		fs.IntVar(&o.Rounds, "rounds", o.Rounds, "uploads and downloads timed")
		fs.IntVar(&o.Senders, "senders", o.Senders, "concurrent SendMessage callers")
		fs.DurationVar(&o.Duration, "duration", o.Duration, "how long throughput and latency load runs")
		fs.IntVar(&o.LatencyChats, "latency-chats", o.LatencyChats, "chats the latency load is spread over")
		fs.IntVar(&o.LatencyRate, "latency-rate", o.LatencyRate, "messages a second offered for latency")
		fs.IntVar(&o.IdleSockets, "idle", o.IdleSockets, "idle connections for the memory figure")
		fs.StringVar(&o.Only, "only", "", "run only the figures whose step name contains this (a trailing $ anchors it at the end)")
		fs.StringVar(&o.ParleyBinary, "parley", "", "the parley executable to measure (paired runs of two builds); default this one")
		fs.DurationVar(&o.Hold, "hold", 0, "keep the idle connections open this long (for profiling)")
		fs.StringVar(&o.DatabaseURL, "database-url", "", "the PostgreSQL database the PostgreSQL and cluster figures write to (default: a private server the bench starts)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return bench.Run(ctx, o, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// migrateCommand copies the data dir's SQLite database into the empty
// PostgreSQL database of -database-url (PARLEY_DATABASE_URL).
func migrateCommand(ctx context.Context, args []string, env config.Env, stdout io.Writer) error {
	cfg, err := config.ParseFor("migrate", args, env)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("migrate: set -database-url or PARLEY_DATABASE_URL to the PostgreSQL database to copy into")
	}
	path := filepath.Join(cfg.DataDir, "parley.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("migrate: no SQLite database to copy: %w", err)
	}
	rep, err := migrate.Copy(ctx, path, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("migrate: nothing was copied: %w", err)
	}
	fmt.Fprintf(stdout, "Copied and verified %d chats (%d items, %d participants, %d files, %d agents).\n",
		rep.Rows["contacts"], rep.Rows["items"], rep.Rows["participants"], rep.Rows["files"], rep.Rows["agents"])
	fmt.Fprintf(stdout, "Start Parley with PARLEY_DATABASE_URL set and the same data dir (%s): it keeps the identity, the views and the attachment files.\n", cfg.DataDir)
	return nil
}

const agentUsage = `usage: parley agent add NAME | list | remove NAME | rotate-key NAME  [-data-dir DIR]`

// agentCommand manages the console's agents in the data dir; it works
// while the server runs, and a removed or rotated key stops working there
// at once.
func agentCommand(args []string, env config.Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(agentUsage)
	}
	verb, rest := args[0], args[1:]
	var name string
	if verb != "list" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return errors.New(agentUsage)
		}
		name, rest = rest[0], rest[1:]
	}
	cfg, err := config.ParseFor("agent "+verb, rest, env)
	if err != nil {
		return err
	}
	// Said on stderr, so that list's output stays the list.
	fmt.Fprintf(stderr, "Agents of %s\n", server.DataSource(cfg))
	ctx := context.Background()
	switch verb {
	case "add":
		key, err := server.AddAgent(ctx, cfg, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Agent %s added. Their sign-in key (shown only now):\n\n  %s\n\nSign in at the console, /agent, with the name and this key.\n", name, key)
	case "list":
		agents, err := server.ListAgents(ctx, cfg)
		if err != nil {
			return err
		}
		if len(agents) == 0 {
			fmt.Fprintln(stdout, "No agents yet: parley agent add NAME creates one.")
		}
		for _, a := range agents {
			// The id is the agent's UserId, as MonitorContact takes it.
			fmt.Fprintf(stdout, "%s\tadded %s\tid %s\n", a.Name, a.CreatedAt.Format(time.RFC3339), a.ID)
		}
	case "remove":
		if err := server.RemoveAgent(ctx, cfg, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Agent %s removed; their key no longer signs in.\n", name)
	case "rotate-key":
		key, err := server.RotateAgentKey(ctx, cfg, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s has a new sign-in key (shown only now); the old one no longer works:\n\n  %s\n", name, key)
	default:
		return errors.New(agentUsage)
	}
	return nil
}

// backupCommand runs `parley backup DIR` and `parley restore DIR`; the
// serve flags (-data-dir, ...) say which deployment.
func backupCommand(verb string, args []string, env config.Env, stdout io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fmt.Errorf("usage: parley %s DIR [-data-dir DIR]", verb)
	}
	dir, rest := args[0], args[1:]
	cfg, err := config.ParseFor(verb, rest, env)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if verb == "backup" {
		fmt.Fprintf(stdout, "Backing up the data dir %s into %s\n", cfg.DataDir, dir)
		m, err := server.Backup(ctx, cfg, dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Done: the database, the identity and %d attachment files (%d files in all, listed with their SHA-256 in %s).\n",
			m.Attachments, len(m.Files), filepath.Join(dir, "manifest.json"))
		if len(m.Missing) > 0 {
			fmt.Fprintf(stdout, "%d attachment files were deleted (retention) while the backup ran; the backup lists them as missing.\n", len(m.Missing))
		}
		if m.BlobsInS3 {
			fmt.Fprintln(stdout, "Attachment bytes are in S3 and not in this backup: keep the bucket versioned (see the README).")
		}
		return nil
	}
	fmt.Fprintf(stdout, "Restoring %s into the data dir %s\n", dir, cfg.DataDir)
	m, err := server.Restore(ctx, cfg, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Done: %d files verified and restored, from a backup of %s. Start the server on %s.\n",
		len(m.Files), m.CreatedAt.Format(time.RFC3339), cfg.DataDir)
	return nil
}

// dataFlags are the flags every command run beside the server takes to say
// which deployment it acts on; they override the environment.
type dataFlags struct{ dataDir, databaseURL string }

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.dataDir, "data-dir", "", "the server's data directory (PARLEY_DATA_DIR; default ./parley-data)")
	fs.StringVar(&d.databaseURL, "database-url", "", "the server's PostgreSQL database, if it has one (PARLEY_DATABASE_URL)")
}

func (d *dataFlags) config(env config.Env) (*config.Config, error) {
	return config.Parse(nil, func(k string) string {
		switch {
		case k == "PARLEY_DATA_DIR" && d.dataDir != "":
			return d.dataDir
		case k == "PARLEY_DATABASE_URL" && d.databaseURL != "":
			return d.databaseURL
		}
		return env(k)
	})
}

func exportCommand(args []string, env config.Env, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		if len(args) != 2 || strings.HasPrefix(args[1], "-") {
			return errors.New("usage: parley export verify FILE")
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		rep, err := audit.Verify(f, info.Size())
		if err != nil {
			return fmt.Errorf("%s does not verify: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "%s verifies: %d entries match the manifest; %d contacts; %d attachment files match the SHA-256 recorded on upload.\n",
			args[1], rep.Entries, rep.Contacts, rep.Attachments)
		return nil
	}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var d dataFlags
	d.register(fs)
	contact := fs.String("contact-id", "", "the contact to export")
	after := fs.String("ended-after", "", "export the contacts that ended at or after this time (RFC 3339)")
	before := fs.String("ended-before", "", "... and before this time (RFC 3339)")
	out := fs.String("o", "", "the archive to write (default parley-export-<time>.zip)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := d.config(env)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = "parley-export-" + time.Now().UTC().Format("20060102T150405Z") + ".zip"
	}
	fmt.Fprintf(stdout, "Exporting from %s into %s\n", server.DataSource(cfg), path)
	// The archive appears under its name only once it is complete.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".parley-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := server.Export(ctx, cfg, tmp, *contact, *after, *before)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %d contacts, %d entries; check it with: parley export verify %s\n", len(m.Contacts), len(m.Entries), path)
	return nil
}

func eraseCommand(args []string, env config.Env, stdout io.Writer) error {
	fs := flag.NewFlagSet("erase", flag.ContinueOnError)
	var d dataFlags
	d.register(fs)
	contact := fs.String("contact-id", "", "the contact to erase")
	reason := fs.String("reason", "", "why, kept in the tombstone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *contact == "" || fs.NArg() > 0 {
		return errors.New("usage: parley erase -contact-id ID [-reason TEXT] [-data-dir DIR] [-database-url URL]")
	}
	cfg, err := d.config(env)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Erasing contact %s in %s\n", *contact, server.DataSource(cfg))
	t, via, err := server.Erase(context.Background(), cfg, *contact, *reason)
	if err != nil {
		return err
	}
	how := "in the database (no server answered)"
	if via {
		how = "by the running server"
	}
	fmt.Fprintf(stdout, "Erased %s at %s, %s. A tombstone records when and why.\n", t.ContactID, t.ErasedAt.UTC().Format(time.RFC3339), how)
	return nil
}
