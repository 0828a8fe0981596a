package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parleychat/parley/internal/backup"
	"github.com/parleychat/parley/internal/config"
)

// Backup copies the deployment's data to dst while it may be serving.
func Backup(ctx context.Context, cfg *config.Config, dst string) (*backup.Manifest, error) {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "parley.db")); err != nil {
		return nil, fmt.Errorf("no Parley database in %s: %w", cfg.DataDir, err)
	}
	return backup.Create(ctx, backup.Options{DataDir: cfg.DataDir, ViewsDir: cfg.ViewsDir, BlobsInS3: cfg.S3Bucket != ""}, dst)
}

// Restore brings a backup back into the configured data dir, which must
// hold no database (and so have no server running on it).
func Restore(ctx context.Context, cfg *config.Config, src string) (*backup.Manifest, error) {
	if src == "" {
		return nil, errors.New("no backup folder")
	}
	return backup.Restore(ctx, src, cfg.DataDir)
}
