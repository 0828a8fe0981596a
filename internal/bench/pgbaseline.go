package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// pgBaseline measures what bounds Parley on PostgreSQL: bare batched
// inserts into the same server, 64 messages a transaction from 4 writers,
// each batch locking its chats in id order, bumping their seq counters and
// inserting its items in one statement, with synchronous_commit on. It
// writes tables of its own, dropped at the end. It also returns
// PostgreSQL's CPU per message sent, from cpu (its CPU time so far), read
// while the pool's backends still live.
func pgBaseline(ctx context.Context, url string, d time.Duration, cpu func() time.Duration) (rate float64, perMsg time.Duration, err error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return 0, 0, err
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	const chats, batch, writers = 64, 64, 4
	setup := []string{
		`DROP TABLE IF EXISTS bench_baseline_items, bench_baseline_chats`,
		`CREATE TABLE bench_baseline_chats (id TEXT PRIMARY KEY, last_seq BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE bench_baseline_items (contact_id TEXT NOT NULL REFERENCES bench_baseline_chats (id), seq BIGINT NOT NULL,
			id TEXT NOT NULL UNIQUE, client_token TEXT NOT NULL, content TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (contact_id, seq))`,
		fmt.Sprintf(`INSERT INTO bench_baseline_chats (id) SELECT 'c' || n FROM generate_series(0, %d) AS n`, chats-1),
	}
	for _, q := range setup {
		if _, err := pool.Exec(ctx, q); err != nil {
			return 0, 0, err
		}
	}
	defer pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS bench_baseline_items, bench_baseline_chats`)

	var sent, next atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(d)
	cpu0 := cpu()
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := baselineBatch(ctx, pool, next.Add(batch), batch, chats); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				sent.Add(batch)
			}
		}()
	}
	wg.Wait()
	if n := sent.Load(); n > 0 {
		perMsg = (cpu() - cpu0) / time.Duration(n)
	}
	return float64(sent.Load()) / d.Seconds(), perMsg, firstErr
}

func baselineBatch(ctx context.Context, pool *pgxpool.Pool, base int64, batch, chats int) error {
	contacts, ids := make([]string, batch), make([]string, batch)
	for i := range batch {
		n := base + int64(i)
		contacts[i], ids[i] = fmt.Sprint("c", n%int64(chats)), fmt.Sprint("m", n)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `SELECT id, last_seq FROM bench_baseline_chats WHERE id = ANY($1) ORDER BY id FOR UPDATE`, contacts)
	if err != nil {
		return err
	}
	last := map[string]int64{}
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return err
		}
		last[id] = seq
	}
	rows.Close()
	seqs := make([]int64, batch)
	for i, c := range contacts {
		last[c]++
		seqs[i] = last[c]
	}
	now := time.Now().UnixMilli()
	if _, err := tx.Exec(ctx, `INSERT INTO bench_baseline_items (contact_id, seq, id, client_token, content, at)
		SELECT c, s, i, i, 'load', $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(c, s, i) ON CONFLICT DO NOTHING`,
		contacts, seqs, ids, now); err != nil {
		return err
	}
	var cs []string
	var ls []int64
	for c, l := range last {
		cs, ls = append(cs, c), append(ls, l)
	}
	if _, err := tx.Exec(ctx, `UPDATE bench_baseline_chats SET last_seq = v.l FROM unnest($1::text[], $2::bigint[]) AS v(c, l)
		WHERE bench_baseline_chats.id = v.c`, cs, ls); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
