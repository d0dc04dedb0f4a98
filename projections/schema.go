package projections

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is stored in PRAGMA user_version. Bump it with a new entry
// in migrations; never edit a shipped one. The read models are derived, so a
// migration may also empty the tables and reset the checkpoint: the
// projector then folds the log again.
const schemaVersion = 1

// Times are INTEGER unix nanoseconds (UTC), so they sort as numbers.
var migrations = []string{
	1: `
CREATE TABLE checkpoint (
	name     TEXT PRIMARY KEY,
	position INTEGER NOT NULL
);
CREATE TABLE payment_methods (
	id         TEXT PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	brand      TEXT    NOT NULL,
	last4      TEXT    NOT NULL,
	exp_month  INTEGER NOT NULL,
	exp_year   INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX payment_methods_by_user_created ON payment_methods (user_id, created_at, id);
CREATE TABLE orders (
	id                TEXT PRIMARY KEY,
	user_id           TEXT    NOT NULL,
	plan_id           TEXT    NOT NULL,
	status            TEXT    NOT NULL,
	currency          TEXT    NOT NULL,
	amount            INTEGER NOT NULL,
	is_refundable     INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	payment_method_id TEXT    NOT NULL,
	subscription_id   TEXT,
	failure_code      TEXT,
	refunded_at       INTEGER
);
CREATE INDEX orders_by_user_created ON orders (user_id, created_at, id);
CREATE INDEX orders_by_user_amount ON orders (user_id, amount, id);
CREATE TABLE subscriptions (
	id                   TEXT PRIMARY KEY,
	user_id              TEXT    NOT NULL,
	plan_id              TEXT    NOT NULL,
	order_id             TEXT    NOT NULL,
	status               TEXT    NOT NULL,
	current_period_start INTEGER,
	current_period_end   INTEGER,
	canceled_at          INTEGER,
	created_at           INTEGER NOT NULL
);
CREATE INDEX subscriptions_by_user_created ON subscriptions (user_id, created_at, id);
`,
}

// migrate brings the schema at db up to schemaVersion in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	version, err := userVersion(ctx, tx)
	if err != nil {
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("read models schema %d is newer than this binary's %d: upgrade billing", version, schemaVersion)
	}
	for v := version + 1; v <= schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("read models schema migration %d: %w", v, err)
		}
	}
	if version < schemaVersion {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, schemaVersion)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkSchema refuses, without changing anything, read models that this
// binary cannot read.
func checkSchema(ctx context.Context, db *sql.DB) error {
	version, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	switch {
	case version == schemaVersion:
		return nil
	case version > schemaVersion:
		return fmt.Errorf("read models schema %d is newer than this binary's %d: upgrade billing", version, schemaVersion)
	default:
		return fmt.Errorf("read models schema %d, want %d: run `billing serve` or `billing projections rebuild` first", version, schemaVersion)
	}
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryRower) (int, error) {
	var version int
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read models schema version: %w", err)
	}
	return version, nil
}
