package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/parleychat/parley/internal/adminapi"
	"github.com/parleychat/parley/internal/audit"
	"github.com/parleychat/parley/internal/backup"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
)

// errBackupOnPostgres: backups copy the SQLite database with the data dir.
var errBackupOnPostgres = errors.New("parley backup and restore cover SQLite deployments; with PARLEY_DATABASE_URL back up the database with pg_dump (and keep the data dir)")

// Backup copies the deployment's data to dst while it may be serving.
func Backup(ctx context.Context, cfg *config.Config, dst string) (*backup.Manifest, error) {
	if cfg.DatabaseURL != "" {
		return nil, errBackupOnPostgres
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "parley.db")); err != nil {
		return nil, fmt.Errorf("no Parley database in %s: %w", cfg.DataDir, err)
	}
	return backup.Create(ctx, backup.Options{DataDir: cfg.DataDir, ViewsDir: cfg.ViewsDir, BlobsInS3: cfg.S3Bucket != ""}, dst)
}

// Restore brings a backup back into the configured data dir, which must
// hold no database (and so have no server running on it).
func Restore(ctx context.Context, cfg *config.Config, src string) (*backup.Manifest, error) {
	if cfg.DatabaseURL != "" {
		return nil, errBackupOnPostgres
	}
	if src == "" {
		return nil, errors.New("no backup folder")
	}
	return backup.Restore(ctx, src, cfg.DataDir)
}

// DataSource says which data a command run beside the server acts on.
func DataSource(cfg *config.Config) string {
	if cfg.DatabaseURL != "" {
		return "the PostgreSQL database " + redactURL(cfg.DatabaseURL) + " (with the data dir " + cfg.DataDir + ")"
	}
	return "the data dir " + cfg.DataDir
}

// offline opens the deployment's database (and, with blobs, its attachment
// store) for a command run beside the server, and runs f with a chat
// service over them. The data dir must exist: a command run from the wrong
// folder must not quietly start a new deployment.
func offline(ctx context.Context, cfg *config.Config, blobs bool, f func(*chat.Service) error) error {
	if err := needDataDir(cfg); err != nil {
		return err
	}
	if err := cfg.LoadIdentity(); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := shareIdentity(ctx, cfg, st); err != nil {
		return err
	}
	c := chat.Config{InstanceID: cfg.InstanceID}
	if blobs {
		b, err := openBlobsShared(ctx, cfg)
		if err != nil {
			return err
		}
		defer b.Close()
		c.Blobs = b
	}
	svc := chat.New(c, st, cfg.Key, slog.New(slog.DiscardHandler))
	defer svc.Close()
	return f(svc)
}

// needDataDir refuses a data dir that does not exist, before anything
// (LoadIdentity included) would create it.
func needDataDir(cfg *config.Config) error {
	if info, err := os.Stat(cfg.DataDir); err != nil || !info.IsDir() {
		return fmt.Errorf("no data dir at %s: pass -data-dir (or PARLEY_DATA_DIR) with the server's", cfg.DataDir)
	}
	return nil
}

// openBlobsShared opens the attachment store beside a server that may be
// running on it.
func openBlobsShared(ctx context.Context, cfg *config.Config) (blob.Store, error) {
	if cfg.S3Bucket != "" {
		return openBlobs(ctx, cfg)
	}
	dir := filepath.Join(cfg.DataDir, "attachments")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return blob.OpenLocal(filepath.Join(cfg.DataDir, "attachments"))
	}
	return blob.OpenLocalShared(dir)
}

// Export writes the audit archive of a contact, or of the contacts that
// ended in a period (RFC 3339 bounds, either may be empty), to w.
func Export(ctx context.Context, cfg *config.Config, w io.Writer, contactID, endedAfter, endedBefore string) (m *audit.Manifest, err error) {
	err = offline(ctx, cfg, true, func(svc *chat.Service) error {
		ids, err := adminapi.Select(ctx, svc, contactID, endedAfter, endedBefore)
		if err != nil {
			return err
		}
		if len(ids) == 1 {
			if _, err := svc.Record(ctx, ids[0]); err != nil {
				return err
			}
		}
		m, err = audit.Write(ctx, w, svc, ids)
		return err
	})
	return m, err
}

// Erase erases a contact. With a server answering on the configured address
// it asks that server (over the admin API, signed with the Connect keys),
// so that its sockets close and its tokens stop working at once; with none
// it erases in the database directly.
func Erase(ctx context.Context, cfg *config.Config, contactID, reason string) (t chat.Tombstone, viaServer bool, err error) {
	// LoadIdentity would make a missing data dir and a new identity, whose
	// keys no running server knows.
	if err := needDataDir(cfg); err != nil {
		return t, false, err
	}
	if err := cfg.LoadIdentity(); err != nil {
		return t, false, err
	}
	if cfg.DatabaseURL != "" { // the Connect keys are the database's
		st, err := openStore(ctx, cfg, nil)
		if err != nil {
			return t, false, err
		}
		err = shareIdentity(ctx, cfg, st)
		st.Close()
		if err != nil {
			return t, false, err
		}
	}
	if base := runningURL(cfg); base != "" {
		t, err := eraseVia(ctx, cfg, base, contactID, reason)
		if !errors.Is(err, errNotRunning) {
			return t, true, err
		}
	}
	err = offline(ctx, cfg, true, func(svc *chat.Service) error {
		t, err = svc.Erase(ctx, contactID, reason)
		return err
	})
	return t, false, err
}

var errNotRunning = errors.New("no server answers")

// runningURL is where a server of this configuration would answer.
func runningURL(cfg *config.Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port == "0" {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func eraseVia(ctx context.Context, cfg *config.Config, base, contactID, reason string) (chat.Tombstone, error) {
	var t chat.Tombstone
	body, _ := json.Marshal(map[string]string{"Reason": reason})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/admin/v1/contacts/"+url.PathEscape(contactID)+"/erase", bytes.NewReader(body))
	if err != nil {
		return t, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "connect", cfg.Region, time.Now()); err != nil {
		return t, err
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return t, errNotRunning
	}
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Message string }
		json.Unmarshal(b, &e)
		return t, fmt.Errorf("the server at %s answered %s: %s %s", base, resp.Status, resp.Header.Get("X-Amzn-ErrorType"), e.Message)
	}
	var out struct{ ContactId, ErasedAt, Reason string }
	if err := json.Unmarshal(b, &out); err != nil {
		return t, err
	}
	t.ContactID, t.Reason = out.ContactId, out.Reason
	t.ErasedAt, _ = time.Parse(time.RFC3339, out.ErasedAt)
	return t, nil
}

// redactURL names a database without its password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "of PARLEY_DATABASE_URL"
	}
	return u.Redacted()
}
