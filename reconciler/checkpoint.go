package reconciler

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	"github.com/robotlabor/billing/eventstore"
	_ "modernc.org/sqlite" // pure-Go SQLite
)

// checkpoints keeps the reconciler's position durably in its own small
// SQLite file, so it never depends on the read models being there.
type checkpoints struct {
	db *sql.DB
}

func openCheckpoints(ctx context.Context, path string) (*checkpoints, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("reconciler checkpoint %s: %w", path, err)
	}
	return &checkpoints{db: db}, nil
}

func (c *checkpoints) load(ctx context.Context) (eventstore.Position, error) {
	var pos int64
	err := c.db.QueryRowContext(ctx, `SELECT position FROM checkpoint WHERE name = 'reconciler'`).Scan(&pos)
	if err == sql.ErrNoRows {
		return eventstore.Start, nil
	}
	return eventstore.Position(pos), err
}

func (c *checkpoints) save(ctx context.Context, pos eventstore.Position) error {
	_, err := c.db.ExecContext(ctx, `INSERT INTO checkpoint (name, position) VALUES ('reconciler', ?)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position`, int64(pos))
	return err
}

func (c *checkpoints) close() error { return c.db.Close() }
