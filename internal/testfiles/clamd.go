package testfiles

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ClamdBinary returns the path of clamd, or "" when it is not installed.
func ClamdBinary() string {
	if p, err := exec.LookPath("clamd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/clamd"); err == nil {
		return "/usr/sbin/clamd"
	}
	return ""
}

// StartClamd runs clamd on 127.0.0.1 with a database in dir holding only the
// EICAR test signature (an MD5 hash signature), so that it starts offline in
// well under a second. It returns clamd's address and a stop function.
func StartClamd(bin, dir string) (addr string, stop func(), err error) {
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o700); err != nil {
		return "", nil, err
	}
	sum := md5.Sum(EICAR())
	sig := fmt.Sprintf("%s:%d:Eicar-Test-Signature\n", hex.EncodeToString(sum[:]), len(EICAR()))
	if err := os.WriteFile(filepath.Join(db, "test.hdb"), []byte(sig), 0o600); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr = ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := strings.Join([]string{
		"Foreground yes", "DatabaseDirectory " + db, "TCPAddr 127.0.0.1", "TCPSocket " + port,
		"LogFile " + filepath.Join(dir, "clamd.log"), "StreamMaxLength 120M", "ScanArchive yes",
		"MaxThreads 4", "SelfCheck 0",
	}, "\n") + "\n"
	cfgPath := filepath.Join(dir, "clamd.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-c", cfgPath)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		conn.Write([]byte("zPING\x00"))
		buf := make([]byte, 16)
		n, _ := conn.Read(buf)
		conn.Close()
		if strings.HasPrefix(string(buf[:n]), "PONG") {
			return addr, stop, nil
		}
	}
	stop()
	log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
	return "", nil, fmt.Errorf("clamd did not answer within 30s; its log:\n%s", log)
}

// Clamd starts clamd for a test and returns its address. Without clamd
// installed the test is skipped, saying so, unless CI is set: there that is
// a failure, since .ci/run installs it.
func Clamd(t testing.TB) string {
	t.Helper()
	bin := ClamdBinary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("clamd is not installed (.ci/run installs clamav-daemon)")
		}
		t.Skip("clamd is not installed (apt-get install clamav-daemon)")
	}
	addr, stop, err := StartClamd(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}
