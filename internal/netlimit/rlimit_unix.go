//go:build unix

package netlimit

import "syscall"

// fileLimit is the process's open-file limit (Go raises the soft limit to
// the hard one at start), or 0 if unknown.
func fileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(min(r.Cur, 1<<20)) // "unlimited" is a huge number
}
