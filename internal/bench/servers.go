package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/pgserver"
)

// engines are the PostgreSQL and NATS servers that the PostgreSQL and
// cluster figures run on, started once, when the first of those figures
// needs them, and stopped when the bench ends.
type engines struct {
	started bool
	pg      *pgserver.Server // nil with -database-url
	dbURL   string           // with -database-url: every deployment shares it
	noPG    string           // why there is no PostgreSQL
	dbs     int

	natsURL string
	natsCmd *exec.Cmd
	noNATS  string // why there is no NATS
}

// engines starts PostgreSQL (unless -database-url names one) and NATS.
// What cannot start is recorded, and the figures that need it are skipped.
func (b *bench) engines() *engines {
	if b.eng == nil {
		b.eng = &engines{}
	}
	e := b.eng
	if e.started {
		return e
	}
	e.started = true
	if b.o.DatabaseURL != "" {
		e.dbURL = b.o.DatabaseURL
	} else if srv, err := pgserver.Start(pgserver.Options{Fsync: true}); err != nil {
		e.noPG = "no PostgreSQL (install Debian's postgresql, or pass -database-url): " + firstLine(err.Error())
	} else {
		e.pg = srv
	}
	// Debian's nats-server, or the one `make bench` builds from go.mod's
	// nats-server/v2: not linked into parley, where it would add 13 MB.
	if bin := natsBinary(); bin == "" {
		e.noNATS = "no nats-server (apt-get install nats-server, set PARLEY_NATS_SERVER, or run make bench, which builds one)"
	} else if url, cmd, err := startNATSProcess(bin); err != nil {
		e.noNATS = fmt.Sprintf("%s did not start: %v", bin, err)
	} else {
		e.natsURL, e.natsCmd = url, cmd
	}
	return e
}

// database returns a fresh database on the private server, or the
// -database-url one.
func (e *engines) database(ctx context.Context) (string, error) {
	if e.pg == nil {
		return e.dbURL, nil
	}
	e.dbs++
	name := fmt.Sprintf("parley_bench_%d", e.dbs)
	conn, err := pgx.Connect(ctx, e.pg.URL.String())
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return e.pg.DatabaseURL(name), nil
}

// cpu is the CPU time the engines have used so far: PostgreSQL's (private
// server only: postmaster and backends) and nats-server's.
func (e *engines) cpu() (pg, nats time.Duration) {
	if e.pg != nil {
		pg = treeCPU(e.pg.PID())
	}
	if e.natsCmd != nil {
		nats = treeCPU(e.natsCmd.Process.Pid)
	}
	return pg, nats
}

func (e *engines) stop() {
	if e.pg != nil {
		e.pg.Stop()
	}
	if e.natsCmd != nil {
		e.natsCmd.Process.Kill()
		e.natsCmd.Wait()
	}
}

// natsBinary is Debian's nats-server (or PARLEY_NATS_SERVER), or "".
func natsBinary() string {
	if p := os.Getenv("PARLEY_NATS_SERVER"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("nats-server")
	return p
}

func startNATSProcess(bin string) (string, *exec.Cmd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-a", host, "-p", port)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "nats://" + addr, cmd, nil
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return "", nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procCPU is the user and system time of a process (stat fields 14, 15)
// and of its waited-for children (16, 17).
func procCPU(pid int) (self, children time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 15 {
		return 0, 0
	}
	tick := func(s string) time.Duration {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * time.Second / 100 // USER_HZ
	}
	return tick(f[11]) + tick(f[12]), tick(f[13]) + tick(f[14])
}

// treeCPU is the CPU time of a process, its exited children, and its live
// children (a postmaster's backends).
func treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	self, waited := procCPU(pid)
	d := self + waited
	dirs, _ := os.ReadDir("/proc")
	for _, de := range dirs {
		child, err := strconv.Atoi(de.Name())
		if err != nil || child == pid {
			continue
		}
		if parentPID(child) == pid {
			s, w := procCPU(child)
			d += s + w
		}
	}
	return d
}

func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// onHost points a URL the server handed out (built on its public URL) at
// the node that made it.
func onHost(raw, nodeURL string) string {
	u, err := url.Parse(raw)
	n, err2 := url.Parse(nodeURL)
	if err != nil || err2 != nil {
		return raw
	}
	u.Host = n.Host
	return u.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (b *bench) stopEngines() {
	if b.eng != nil {
		b.eng.stop()
	}
}
