// Package backup copies a single-node deployment's data dir (the SQLite
// database, the identity and views, and the attachment files the database
// references) to a folder while the server runs, and restores it.
//
// A backup is consistent: the database is one snapshot (VACUUM INTO), and
// the attachment files are those that snapshot references; attachment files
// are written once, so copying them after the snapshot copies what it saw.
// manifest.json, written last, lists every file with its SHA-256, and
// Restore verifies them all before it writes anything.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// Format names the layout of a backup folder.
const Format = "parley-backup/1"

// Manifest describes a backup.
type Manifest struct {
	Format    string    `json:"format"`
	CreatedAt time.Time `json:"createdAt"`
	// Files maps each file's slash-separated path in the backup to its
	// SHA-256, hex.
	Files map[string]string `json:"files"`
	// Attachments counts the attachment files copied; Missing lists those
	// the database references that were gone when copied (deleted by
	// retention after the snapshot).
	Attachments int      `json:"attachments"`
	Missing     []string `json:"missing,omitempty"`
	// BlobsInS3 says the attachment bytes live in a bucket and are not in
	// this backup (back the bucket up with its versioning).
	BlobsInS3 bool `json:"blobsInS3,omitempty"`
}

// Options is what Create copies.
type Options struct {
	DataDir string // the deployment's data dir
	// ViewsDir is the DescribeView folder; "" means DataDir/views.
	ViewsDir string
	// BlobsInS3 skips the attachment files: they are in a bucket.
	BlobsInS3 bool
}

const (
	dbName       = "parley.db"
	identityName = "identity.json"
	manifestName = "manifest.json"
)

// Create writes a backup of o.DataDir into dst, which must not exist or be
// empty. It works while a server runs on the data dir.
func Create(ctx context.Context, o Options, dst string) (*Manifest, error) {
	if err := emptyDir(dst); err != nil {
		return nil, err
	}
	m := &Manifest{Format: Format, CreatedAt: time.Now().UTC(), Files: map[string]string{}, BlobsInS3: o.BlobsInS3}
	keys, err := sqlite.Snapshot(ctx, filepath.Join(o.DataDir, dbName), filepath.Join(dst, dbName))
	if err != nil {
		return nil, err
	}
	if err := m.hashFile(dst, dbName); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(o.DataDir, identityName), filepath.Join(dst, identityName)); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := m.hashFile(dst, identityName); err != nil {
		return nil, err
	}
	views := o.ViewsDir
	if views == "" {
		views = filepath.Join(o.DataDir, "views")
	}
	if err := copyTree(views, filepath.Join(dst, "views")); err != nil {
		return nil, fmt.Errorf("views: %w", err)
	}
	if !o.BlobsInS3 {
		if err := m.copyBlobs(ctx, filepath.Join(o.DataDir, "attachments"), filepath.Join(dst, "attachments"), keys); err != nil {
			return nil, err
		}
	}
	if err := m.hashTree(dst, "views"); err != nil {
		return nil, err
	}
	if err := m.hashTree(dst, "attachments"); err != nil {
		return nil, err
	}
	return m, writeJSON(filepath.Join(dst, manifestName), m)
}

// copyBlobs copies each key's blob, and its thumbnail if it has one.
func (m *Manifest) copyBlobs(ctx context.Context, from, to string, keys []string) error {
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		m.Missing = append(m.Missing, keys...)
		return nil
	}
	src, err := blob.OpenLocalShared(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := blob.OpenLocal(to)
	if err != nil {
		return err
	}
	defer dst.Close()
	for _, k := range keys {
		copied, err := copyBlob(ctx, src, dst, k)
		if err != nil {
			return fmt.Errorf("attachment %s: %w", k, err)
		}
		if !copied {
			m.Missing = append(m.Missing, k)
			continue
		}
		m.Attachments++
		if _, err := copyBlob(ctx, src, dst, k+"-thumb"); err != nil {
			return fmt.Errorf("thumbnail of %s: %w", k, err)
		}
	}
	return nil
}

func copyBlob(ctx context.Context, src, dst blob.Store, key string) (bool, error) {
	f, err := src.Open(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	w, err := dst.Create(ctx, key)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return false, err
	}
	return true, w.Commit()
}

// Restore verifies the backup in src and copies it into dataDir, which must
// hold no database: restore into a new or emptied data dir, with no server
// running on it.
func Restore(ctx context.Context, src, dataDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(src, manifestName))
	if err != nil {
		return nil, fmt.Errorf("%s is not a complete backup: %w", src, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Format != Format {
		return nil, fmt.Errorf("%s: not a %s manifest", filepath.Join(src, manifestName), Format)
	}
	if err := m.Verify(src); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, dbName)); err == nil {
		return nil, fmt.Errorf("%s already holds a database: restore into a new or empty data dir", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	// The database goes last: a restore cut short leaves no database, so
	// it can simply run again.
	paths := make([]string, 0, len(m.Files))
	for p := range m.Files {
		if p != dbName {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range append(paths, dbName) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		to := filepath.Join(dataDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return nil, err
		}
		if err := restoreFile(filepath.Join(src, filepath.FromSlash(p)), to); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// restoreFile copies a file into place whole or not at all: it is written
// beside its place and renamed over it, so that a restore cut short never
// leaves a half-written database (which the next run would take for a
// restored one), and a second run replaces what the first left.
func restoreFile(from, to string) error {
	tmp := to + ".restoring"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(to))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Verify recomputes every file's digest.
func (m *Manifest) Verify(dir string) error {
	for p := range m.Files {
		// Restore writes each file at its path under the data dir: a
		// manifest, which is only JSON, must not name a place outside it.
		if !filepath.IsLocal(filepath.FromSlash(p)) {
			return fmt.Errorf("backup file %q: the manifest names a path outside the backup", p)
		}
	}
	for p, want := range m.Files {
		got, err := fileSHA256(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("backup file %s: %w", p, err)
		}
		if got != want {
			return fmt.Errorf("backup file %s does not match its digest in the manifest", p)
		}
	}
	return nil
}

func (m *Manifest) hashFile(root, rel string) error {
	sum, err := fileSHA256(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	m.Files[rel] = sum
	return nil
}

func (m *Manifest) hashTree(root, rel string) error {
	dir := filepath.Join(root, rel)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		r, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		return m.hashFile(root, filepath.ToSlash(r))
	})
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o700)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: back up into a new folder", dir)
	}
	return nil
}

// copyFile copies a file durably, owner-only.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return errors.Join(out.Sync(), out.Close())
}

// copyTree copies the regular files of a folder, if it exists.
func copyTree(from, to string) error {
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, r), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil // links and devices are not part of a deployment
		}
		return copyFile(path, filepath.Join(to, r))
	})
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
