//go:build unix

package gateway

import "syscall"

// waitReadable parks on the runtime's poller until the socket has data (or
// end of file, or an error), peeking rather than reading so that the bytes
// stay for the websocket reader. The goroutine parks with a shallow stack.
func waitReadable(rc syscall.RawConn) error {
	return rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if err == syscall.EINTR {
				continue
			}
			return err != syscall.EAGAIN
		}
	})
}
