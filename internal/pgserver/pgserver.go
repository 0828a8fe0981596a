// Package pgserver starts a private PostgreSQL from Debian's binaries
// (/usr/lib/postgresql/N/bin, or PARLEY_PG_BIN) in a temp dir, reachable
// only through a unix socket in that dir (no TCP). initdb refuses to run as
// root, so as root the server runs as the postgres OS user. The tests
// (internal/store/pgtest) and `parley bench` use it.
package pgserver

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Options shape the server.
type Options struct {
	// Fsync turns on PostgreSQL's own durability (fsync, full_page_writes).
	// Tests kill Parley, never the database server, so they run without it;
	// figures of durable writes need it.
	Fsync bool
}

// Server is a running private server.
type Server struct {
	// URL reaches the maintenance database (postgres) as the postgres user,
	// as pgx parses it; set its Path for another database.
	URL      *url.URL
	dir      string
	data     string
	bin      string
	root     bool
	watchdog *exec.Cmd
}

// Start initialises a cluster in a new temp dir and starts it. A watchdog
// process stops the server and removes the dir once this process is gone,
// should it die without calling Stop.
func Start(o Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, data: filepath.Join(dir, "data"), bin: bin, root: os.Geteuid() == 0}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.root {
		if err := exec.Command("chown", "postgres:", dir).Run(); err != nil {
			return fail(fmt.Errorf("chown %s to postgres: %w", dir, err))
		}
	}
	if err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return fail(err)
	}
	fsync := "off"
	if o.Fsync {
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
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
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
	if err := s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fail(fmt.Errorf("%w\n%s", err, log))
	}
	pgCtl := filepath.Join(bin, "pg_ctl")
	if s.root {
		pgCtl = "runuser -u postgres -- " + pgCtl
	}
	s.watchdog = exec.Command("sh", "-c", fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done; %s -D '%s' -m immediate stop >/dev/null 2>&1; rm -rf '%s'`,
		os.Getpid(), pgCtl, s.data, dir))
	if err := s.watchdog.Start(); err == nil {
		go s.watchdog.Wait()
	} else {
		s.watchdog = nil
	}
	s.URL = &url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}}.Encode()}
	return s, nil
}

// DatabaseURL is the URL of database name on this server.
func (s *Server) DatabaseURL(name string) string {
	u := *s.URL
	u.Path = "/" + name
	return u.String()
}

// PID is the postmaster's process id (its backends are its children), or 0.
func (s *Server) PID() int {
	b, err := os.ReadFile(filepath.Join(s.data, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// Stop stops the server at once and removes its dir.
func (s *Server) Stop() {
	s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
	if s.watchdog != nil {
		s.watchdog.Process.Kill()
	}
}

// run runs one of the server's programs, as the postgres user when root.
func (s *Server) run(name string, args ...string) error {
	cmdArgs := append([]string{filepath.Join(s.bin, name)}, args...)
	if s.root {
		cmdArgs = append([]string{"runuser", "-u", "postgres", "--"}, cmdArgs...)
	}
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}

// BinDir finds PostgreSQL's server binaries.
func BinDir() (string, error) {
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
