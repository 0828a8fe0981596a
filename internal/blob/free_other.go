//go:build !(linux || darwin || freebsd)

package blob

import "errors"

// Free is not known on this system; the free-space floor is not applied.
func (l *Local) Free() (int64, error) { return 0, errors.ErrUnsupported }
