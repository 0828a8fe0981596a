package postgres

import (
	"context"
	"fmt"
)

// ShareIdentity stores candidate, a serialized identity (keys, instance
// id), unless the database holds one already, and returns the one it holds.
// The first node of a cluster to start thus sets the identity of all of
// them: a token or signed URL one node issues verifies on every other.
// The table lives outside the migrations, as it is not chat data.
func (db *DB) ShareIdentity(ctx context.Context, candidate []byte) ([]byte, error) {
	if _, err := db.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS parley_identity (
		id integer PRIMARY KEY CHECK (id = 1),
		doc bytea NOT NULL)`); err != nil {
		return nil, fmt.Errorf("identity table: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO parley_identity (id, doc) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, candidate); err != nil {
		return nil, fmt.Errorf("storing the identity: %w", err)
	}
	var doc []byte
	if err := db.pool.QueryRow(ctx, `SELECT doc FROM parley_identity WHERE id = 1`).Scan(&doc); err != nil {
		return nil, fmt.Errorf("reading the identity: %w", err)
	}
	return doc, nil
}

// LastSeqs returns the last seq of each of the given contacts (absent ones
// are left out): what a follower compares with the seq it expects next to
// find items the bus lost.
func (db *DB) LastSeqs(ctx context.Context, ids []string) (map[string]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, last_seq FROM contacts WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, err
		}
		out[id] = seq
	}
	return out, rows.Err()
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }
