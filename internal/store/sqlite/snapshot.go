package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Snapshot writes a consistent copy of the database at src to dst while
// other processes may be writing it (VACUUM INTO reads one snapshot of the
// WAL), and returns the blob keys the copy references: the bytes of every
// attachment that has any. dst must not exist; it appears only complete.
func Snapshot(ctx context.Context, src, dst string) (blobKeys []string, err error) {
	if _, err := os.Stat(src); err != nil {
		return nil, err
	}
	if _, err := os.Stat(dst); err == nil {
		return nil, fmt.Errorf("%s exists already", dst)
	}
	ro, err := sql.Open("sqlite", "file:"+filepath.ToSlash(src)+"?mode=ro&_pragma=busy_timeout("+strconv.Itoa(busyTimeoutMS)+")")
	if err != nil {
		return nil, err
	}
	defer ro.Close()
	partial := dst + ".partial"
	os.Remove(partial)
	if _, err := ro.ExecContext(ctx, `VACUUM INTO ?`, partial); err != nil {
		return nil, fmt.Errorf("sqlite: copying %s: %w", src, err)
	}
	defer os.Remove(partial) // a no-op once renamed
	if err := os.Chmod(partial, 0o600); err != nil {
		return nil, err
	}
	if err := syncFile(partial); err != nil {
		return nil, err
	}
	cp, err := sql.Open("sqlite", "file:"+filepath.ToSlash(partial)+"?mode=ro")
	if err != nil {
		return nil, err
	}
	rows, err := cp.QueryContext(ctx, `SELECT id FROM files WHERE state NOT IN ('PENDING', 'DELETED') ORDER BY id`)
	if err != nil {
		cp.Close()
		return nil, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			cp.Close()
			return nil, err
		}
		blobKeys = append(blobKeys, id)
	}
	err = errors.Join(rows.Err(), rows.Close(), cp.Close())
	if err != nil {
		return nil, err
	}
	if err := os.Rename(partial, dst); err != nil {
		return nil, err
	}
	return blobKeys, syncFile(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
