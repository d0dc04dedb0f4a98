package reconciler

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
	_ "modernc.org/sqlite" // pure-Go SQLite
)

// checkpoints keeps the reconciler's position, and the events it parked,
// durably in its own small SQLite file, so it never depends on the read
// models being there.
type checkpoints struct {
	db *sql.DB
}

func openCheckpoints(ctx context.Context, path string) (*checkpoints, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// NORMAL: a power loss may take the last checkpoints, always with the
	// parked events of the same transactions; the reconciler then handles
	// those events again, which every reaction allows (idempotent provider
	// calls, outcome events with derived ids). No fsync per batch.
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := sqlitex.Migrate(ctx, db, "reconciler", migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("reconciler checkpoint %s: %w", path, err)
	}
	return &checkpoints{db: db}, nil
}

// migrations of the reconciler's file (see sqlitex.Migrate); append only.
var migrations = []string{
	1: `
CREATE TABLE IF NOT EXISTS checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS parked (
	position INTEGER PRIMARY KEY, -- the event's log position
	attempts INTEGER NOT NULL,
	next_at  INTEGER NOT NULL     -- unix nanos
);`,
	// When an event was first parked: past Stripe's 24-hour idempotency
	// window a retry could act twice, so it goes to an operator before.
	2: `ALTER TABLE parked ADD COLUMN parked_at INTEGER NOT NULL DEFAULT 0;`,
}

func (c *checkpoints) load(ctx context.Context) (eventstore.Position, error) {
	var pos int64
	err := c.db.QueryRowContext(ctx, `SELECT position FROM checkpoint WHERE name = 'reconciler'`).Scan(&pos)
	if err == sql.ErrNoRows {
		return eventstore.Start, nil
	}
	return eventstore.Position(pos), err
}

// save moves the checkpoint to pos and parks the given events, in one
// transaction: an event is either handled, parked, or ahead of the
// checkpoint, never lost between them.
func (c *checkpoints) save(ctx context.Context, pos eventstore.Position, park []eventstore.Position, nextAt time.Time) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, p := range park {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO parked (position, attempts, next_at, parked_at) VALUES (?, 1, ?, ?)`,
			int64(p), nextAt.UnixNano(), time.Now().UnixNano()); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoint (name, position) VALUES ('reconciler', ?)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position`, int64(pos)); err != nil {
		return err
	}
	return tx.Commit()
}

type parkedEvent struct {
	position eventstore.Position
	attempts int
	since    time.Time
}

// due returns parked events whose next attempt is due.
func (c *checkpoints) due(ctx context.Context, now time.Time) ([]parkedEvent, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT position, attempts, parked_at FROM parked WHERE next_at <= ? ORDER BY position LIMIT 100`, now.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parkedEvent
	for rows.Next() {
		var p parkedEvent
		var pos, since int64
		if err := rows.Scan(&pos, &p.attempts, &since); err != nil {
			return nil, err
		}
		p.position, p.since = eventstore.Position(pos), time.Unix(0, since)
		out = append(out, p)
	}
	return out, rows.Err()
}

// park adds one event to the retries (the sweep's), unless it is there.
func (c *checkpoints) park(ctx context.Context, pos eventstore.Position, nextAt time.Time) error {
	_, err := c.db.ExecContext(ctx, `INSERT OR IGNORE INTO parked (position, attempts, next_at, parked_at) VALUES (?, 1, ?, ?)`,
		int64(pos), nextAt.UnixNano(), time.Now().UnixNano())
	return err
}

func (c *checkpoints) isParked(ctx context.Context, pos eventstore.Position) (bool, error) {
	var one int
	err := c.db.QueryRowContext(ctx, `SELECT 1 FROM parked WHERE position = ?`, int64(pos)).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil, err
}

func (c *checkpoints) retryLater(ctx context.Context, pos eventstore.Position, attempts int, at time.Time) error {
	_, err := c.db.ExecContext(ctx, `UPDATE parked SET attempts = ?, next_at = ? WHERE position = ?`, attempts, at.UnixNano(), int64(pos))
	return err
}

func (c *checkpoints) unpark(ctx context.Context, pos eventstore.Position) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM parked WHERE position = ?`, int64(pos))
	return err
}

func (c *checkpoints) parkedCount(ctx context.Context) (int, error) {
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM parked`).Scan(&n)
	return n, err
}

func (c *checkpoints) close() error { return c.db.Close() }
