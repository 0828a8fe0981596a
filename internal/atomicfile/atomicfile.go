// Package atomicfile writes small files whole or not at all, and durably:
// the keys and identity a server makes on its first start, which every
// later start must find intact.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes b to path through a temporary file beside it: synced,
// renamed over path, and the rename synced. A crash leaves either the old
// file or the new one, never a part of either; once Write returns, a power
// loss keeps the new one.
func Write(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
