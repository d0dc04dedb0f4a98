// Package sqlitex holds what every SQLite file of the service does the
// same way: versioned schema migrations in PRAGMA user_version.
package sqlitex

import (
	"context"
	"database/sql"
	"fmt"
)

// Migrate brings the schema of db (named what, for messages) to the last
// version of migrations, in one transaction. migrations[v] takes the schema
// from version v-1 to v; migrations[0] is unused. Never edit a shipped
// entry: append a new one. A database newer than migrations is refused.
func Migrate(ctx context.Context, db *sql.DB, what string, migrations []string) error {
	latest := len(migrations) - 1
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	version, err := UserVersion(ctx, tx)
	if err != nil {
		return fmt.Errorf("%s schema version: %w", what, err)
	}
	if version > latest {
		return fmt.Errorf("%s schema %d is newer than this binary's %d: upgrade billing", what, version, latest)
	}
	for v := version + 1; v <= latest; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("%s schema migration %d: %w", what, v, err)
		}
	}
	if version < latest {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, latest)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// QueryRower is a *sql.DB, *sql.Tx or *sql.Conn.
type QueryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// UserVersion reads the schema version.
func UserVersion(ctx context.Context, q QueryRower) (int, error) {
	var version int
	err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version)
	return version, err
}
