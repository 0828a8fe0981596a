// Package migrate copies a stopped SQLite deployment into an empty
// PostgreSQL database: every table, in one transaction, verified before it
// commits (row counts, and a digest of every table and of every chat's
// items), so that the copy is all or nothing.
package migrate

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/store/postgres"
	"github.com/parleychat/parley/internal/store/sqlite"
)

// tables in the order their foreign keys allow, each with the columns it
// is ordered by for the digests.
var tables = []struct{ name, order string }{
	{"contacts", "id"},
	{"participants", "id"},
	{"connection_tokens", "hash"},
	{"items", "contact_id, seq"},
	{"receipts", "message_id, recipient_id"},
	{"idempotency", "scope, client_token"},
	{"files", "id"},
	{"attached_files_config", "instance_id, scope"},
	{"agents", "id"},
	{"erasures", "contact_id"},
	{"streams", "id"},
	{"stream_outbox", "id"},
	{"canned_responses", "id"},
}

// Report is what was copied.
type Report struct {
	Rows  map[string]int // by table
	Chats int            // transcripts whose digests matched
}

// ErrNotEmpty: the target database already holds Parley data.
var ErrNotEmpty = errors.New("the PostgreSQL database is not empty")

// Copy copies the SQLite database at path into the PostgreSQL database at
// url, which must hold no Parley data. Both schemas are first migrated to
// this version's. Nothing is written unless everything is copied and
// verified. The SQLite deployment must be stopped.
func Copy(ctx context.Context, path, url string) (Report, error) {
	rep := Report{Rows: map[string]int{}}
	// Opening each store migrates its schema to this version's.
	lite, err := sqlite.Open(path, nil)
	if err != nil {
		return rep, fmt.Errorf("sqlite: %w", err)
	}
	lite.Close()
	pg, err := postgres.Open(ctx, url, nil)
	if err != nil {
		return rep, err
	}
	pg.Close()

	src, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=query_only(ON)&_txlock=deferred")
	if err != nil {
		return rep, err
	}
	defer src.Close()
	// One read transaction: a consistent snapshot, should anything write.
	stx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rep, err
	}
	defer stx.Rollback()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(context.Background())
	for _, t := range tables {
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+t.name+`)`).Scan(&any); err != nil {
			return rep, err
		}
		if any {
			return rep, fmt.Errorf("%w: table %s has rows", ErrNotEmpty, t.name)
		}
	}

	for _, t := range tables {
		cols, bools, err := columns(ctx, tx, t.name)
		if err != nil {
			return rep, err
		}
		n, err := copyTable(ctx, stx, tx, t.name, cols, bools)
		if err != nil {
			return rep, fmt.Errorf("copying %s: %w", t.name, err)
		}
		rep.Rows[t.name] = n
	}

	// Copied ids leave the outbox's sequence behind them: move it on.
	if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('stream_outbox', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM stream_outbox`); err != nil {
		return rep, err
	}

	// Verify in the same transaction, before it commits.
	for _, t := range tables {
		cols, _, err := columns(ctx, tx, t.name)
		if err != nil {
			return rep, err
		}
		q := `SELECT ` + strings.Join(cols, ", ") + ` FROM ` + t.name + ` ORDER BY ` + t.order
		a, err := digestSQLite(ctx, stx, q, len(cols))
		if err != nil {
			return rep, err
		}
		b, err := digestPG(ctx, tx, q)
		if err != nil {
			return rep, err
		}
		if a.rows != b.rows || a.sum != b.sum {
			return rep, fmt.Errorf("verifying %s: %d rows (digest %s) in SQLite, %d (%s) in PostgreSQL", t.name, a.rows, a.sum, b.rows, b.sum)
		}
	}
	chats, err := verifyTranscripts(ctx, stx, tx)
	if err != nil {
		return rep, err
	}
	rep.Chats = chats
	if err := tx.Commit(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}

// columns returns a PostgreSQL table's columns and which are booleans
// (SQLite stores those as integers).
func columns(ctx context.Context, tx pgx.Tx, table string) ([]string, map[string]bool, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cols []string
	bools := map[string]bool{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, nil, err
		}
		cols = append(cols, name)
		bools[name] = typ == "boolean"
	}
	return cols, bools, rows.Err()
}

// copyTable streams a table from SQLite into PostgreSQL with COPY, row by
// row as it reads them: a table is never held in memory whole. A column
// the SQLite table lacks fails the copy: the schemas must be the same.
func copyTable(ctx context.Context, stx *sql.Tx, tx pgx.Tx, table string, cols []string, bools map[string]bool) (int, error) {
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ptrs := make([]any, len(cols))
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		// A fresh slice each row: COPY may still hold the last one.
		vals := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range cols {
			if bools[c] {
				vals[i] = truthy(vals[i])
			}
		}
		return vals, nil
	}))
	return int(n), err
}

func truthy(v any) bool {
	switch v := v.(type) {
	case int64:
		return v != 0
	case bool:
		return v
	}
	return false
}

type digest struct {
	rows int
	sum  string
}

// writeValue writes one value in a form both databases give alike.
func writeValue(h io.Writer, v any) {
	switch v := v.(type) {
	case nil:
		io.WriteString(h, "\x00null")
	case bool:
		if v {
			io.WriteString(h, "\x001")
		} else {
			io.WriteString(h, "\x000")
		}
	case []byte:
		fmt.Fprintf(h, "\x00%x", v)
	case string:
		fmt.Fprintf(h, "\x00%q", v)
	default:
		fmt.Fprintf(h, "\x00%v", v)
	}
}

func digestSQLite(ctx context.Context, stx *sql.Tx, q string, ncols int) (digest, error) {
	rows, err := stx.QueryContext(ctx, q)
	if err != nil {
		return digest{}, err
	}
	defer rows.Close()
	h, d := sha256.New(), digest{}
	for rows.Next() {
		vals := make([]any, ncols)
		ptrs := make([]any, ncols)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return d, err
		}
		writeRow(h, vals)
		d.rows++
	}
	d.sum = hex.EncodeToString(h.Sum(nil))
	return d, rows.Err()
}

func digestPG(ctx context.Context, tx pgx.Tx, q string) (digest, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return digest{}, err
	}
	defer rows.Close()
	h, d := sha256.New(), digest{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return d, err
		}
		writeRow(h, vals)
		d.rows++
	}
	d.sum = hex.EncodeToString(h.Sum(nil))
	return d, rows.Err()
}

// writeRow hashes a row, SQLite's integer booleans and PostgreSQL's
// booleans alike.
func writeRow(h hash.Hash, vals []any) {
	for _, v := range vals {
		if b, ok := v.(bool); ok {
			v = map[bool]int64{false: 0, true: 1}[b]
		}
		writeValue(h, v)
	}
	io.WriteString(h, "\n")
}

// verifyTranscripts compares every chat's transcript, item by item in seq
// order, and returns how many chats it compared.
func verifyTranscripts(ctx context.Context, stx *sql.Tx, tx pgx.Tx) (int, error) {
	const q = `SELECT contact_id, seq, id, type, content_type, content, participant_id, display_name, role, at, attachments
		FROM items WHERE in_transcript ORDER BY contact_id, seq`
	per := func(next func() (string, []any, bool, error)) (map[string]string, error) {
		sums := map[string]string{}
		var cur string
		var h hash.Hash
		flush := func() {
			if h != nil {
				sums[cur] = hex.EncodeToString(h.Sum(nil))
			}
		}
		for {
			contact, vals, ok, err := next()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if contact != cur || h == nil {
				flush()
				cur, h = contact, sha256.New()
			}
			writeRow(h, vals)
		}
		flush()
		return sums, nil
	}
	srows, err := stx.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer srows.Close()
	a, err := per(func() (string, []any, bool, error) {
		if !srows.Next() {
			return "", nil, false, srows.Err()
		}
		vals := make([]any, 11)
		ptrs := make([]any, 11)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		err := srows.Scan(ptrs...)
		c, _ := vals[0].(string)
		return c, vals, true, err
	})
	if err != nil {
		return 0, err
	}
	prows, err := tx.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	defer prows.Close()
	b, err := per(func() (string, []any, bool, error) {
		if !prows.Next() {
			return "", nil, false, prows.Err()
		}
		vals, err := prows.Values()
		c, _ := vals[0].(string)
		return c, vals, true, err
	})
	if err != nil {
		return 0, err
	}
	for c, sum := range a {
		if b[c] != sum {
			return 0, fmt.Errorf("verifying the transcript of chat %s: it differs in PostgreSQL", c)
		}
	}
	if len(a) != len(b) {
		extra := slices.Collect(func(yield func(string) bool) {
			for c := range b {
				if _, ok := a[c]; !ok && !yield(c) {
					return
				}
			}
		})
		return 0, fmt.Errorf("verifying transcripts: PostgreSQL has chats SQLite has not: %v", extra)
	}
	return len(a), nil
}
