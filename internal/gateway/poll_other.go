//go:build !linux

package gateway

import (
	"errors"
	"syscall"
)

// poller is Linux's epoll; elsewhere each socket's reader waits in its read,
// on a goroutine of its own.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("gateway: no poller on this system") }

func (p *poller) add(*socket, syscall.RawConn, bool) error { return nil }
func (p *poller) arm(*socket, syscall.RawConn) error       { return nil }
func (p *poller) remove(*socket, syscall.RawConn)          {}
func (p *poller) run(<-chan struct{})                      {}
func (p *poller) close()                                   {}
