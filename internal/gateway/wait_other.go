//go:build !unix

package gateway

import "syscall"

// waitReadable returns at once where peeking is not available: the
// websocket read then blocks instead, on a deeper stack.
func waitReadable(syscall.RawConn) error { return nil }
