//go:build linux || darwin || freebsd

package blob

import "syscall"

// Free reports the bytes available to Parley on the folder's file system.
func (l *Local) Free() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(l.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
