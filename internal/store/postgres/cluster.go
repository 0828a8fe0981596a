package postgres

import (
	"context"
	"fmt"
	"time"
)

// ShareIdentity stores candidate, a serialized identity (keys, instance
// id), unless the database holds one already, and returns the one it holds.
// The first node of a cluster to start thus sets the identity of all of
// them: a token or signed URL one node issues verifies on every other.
// Its table (parley_identity) comes with the migrations (0005_cluster).
func (db *DB) ShareIdentity(ctx context.Context, candidate []byte) ([]byte, error) {
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

// AcquireSocket records a new websocket of a participant, unless it has
// max unexpired ones already on all nodes together. Each is a row of
// parley_sockets (0005_cluster), a lease its node renews while the socket
// lives, so that a node that dies leaves leases that expire. Acquisitions for one
// participant are serialised by an advisory lock on its id, so that
// concurrent ones on several nodes cannot all pass.
func (db *DB) AcquireSocket(ctx context.Context, id, participantID, node string, max int, ttl time.Duration) (bool, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('parley_sockets:' || $1))`, participantID); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM parley_sockets WHERE participant_id = $1 AND expires_at < now()`, participantID); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM parley_sockets WHERE participant_id = $1`, participantID).Scan(&n); err != nil {
		return false, err
	}
	if n >= max {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO parley_sockets (id, participant_id, node, expires_at) VALUES ($1, $2, $3, now() + $4::interval)`,
		id, participantID, node, fmt.Sprintf("%d milliseconds", ttl.Milliseconds())); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// RenewSockets extends the leases of the given sockets (id → participant
// id) and deletes every expired lease: a node that died leaves its
// sockets' leases, which only an acquisition for the same participant
// would clear otherwise. A lease that is gone is made again: a node cut
// off from the database for longer than a lease lives finds its leases
// cleared by the others, though its sockets are still open.
func (db *DB) RenewSockets(ctx context.Context, leases map[string]string, node string, ttl time.Duration) error {
	ids := make([]string, 0, len(leases))
	participants := make([]string, 0, len(leases))
	for id, p := range leases {
		ids, participants = append(ids, id), append(participants, p)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO parley_sockets (id, participant_id, node, expires_at)
		SELECT id, participant_id, $3, now() + $4::interval FROM unnest($1::text[], $2::text[]) AS l (id, participant_id)
		ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
		ids, participants, node, fmt.Sprintf("%d milliseconds", ttl.Milliseconds())); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `DELETE FROM parley_sockets WHERE expires_at < now()`)
	return err
}

// ReleaseSockets ends the leases of closed sockets.
func (db *DB) ReleaseSockets(ctx context.Context, ids []string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM parley_sockets WHERE id = ANY($1)`, ids)
	return err
}

// HasSocket reports whether a participant has an unexpired socket lease on
// any node.
func (db *DB) HasSocket(ctx context.Context, participantID string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM parley_sockets WHERE participant_id = $1 AND expires_at >= now())`,
		participantID).Scan(&ok)
	return ok, err
}
