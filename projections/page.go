package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/internal/sqlitex"
)

// Page asks for one page of a cursor-paged list: at most Limit rows (1..100)
// after the row Cursor names (the first page when empty).
type Page struct {
	Limit  int
	Cursor string
	AsOf   time.Time // the list as the ledger stood then (asof.go); now when zero
}

// MaxLimit is the largest page; callers validate limits, and queries clamp
// to 1..MaxLimit anyway.
const MaxLimit = 100

func clampLimit(n int) int {
	return min(max(n, 1), MaxLimit)
}

// listQuery is one page of a user's rows of a table, ordered by (sortBy, id)
// both ascending or both descending, starting right after row afterID. Table
// and column names come from this package's constants, never from input.
type listQuery struct {
	table   string
	columns string
	sortBy  string // an INTEGER column indexed as (user_id, sortBy, id)
	desc    bool
	userID  string
	afterID string // "" for the first page
	limit   int
	// recorded, when set, is the column of when a row was first recorded:
	// only rows recorded at or before asOf are listed (as-of reads).
	recorded string
	asOf     int64
}

// listPage runs q by keyset on the (user_id, sortBy, id) index: the page
// after a row starts at that row's key, so it costs the same as the first
// page, and rows inserted meanwhile can neither shift nor repeat it. It
// fetches one row more than the limit to tell whether more follow. An
// afterID that is not one of the user's rows is ErrInvalidCursor.
func listPage[T any](ctx context.Context, db *sqlitex.Stmts, q listQuery, scan func(scanner) (T, error)) ([]T, bool, error) {
	ctx = brief(ctx)
	limit := clampLimit(q.limit)
	args := []any{q.userID}
	if q.recorded != "" {
		args = append(args, q.asOf)
	}
	if q.afterID != "" {
		key, err := sortKey(ctx, db, q)
		if err != nil {
			return nil, false, err
		}
		args = append(args, key, q.afterID)
	}
	rows, err := db.Query(ctx, q.sql(), args...)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.table, err)
	}
	defer rows.Close()
	items := make([]T, 0, limit+1)
	for len(items) <= limit && rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list %s: %w", q.table, err)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list %s: %w", q.table, err)
	}
	if len(items) > limit {
		return items[:limit], true, nil
	}
	return items, false, nil
}

// sql is q's query; its arguments are the user id, then (when paging
// after a row) that row's sort key and id. It has no LIMIT: the index
// gives its order, so SQLite produces rows only as they are read, and one
// prepared statement serves every page size (a bound LIMIT would be
// compiled into the statement, and compiled again for every other size).
func (q listQuery) sql() string {
	cmp, dir := ">", "ASC"
	if q.desc {
		cmp, dir = "<", "DESC"
	}
	where := "user_id = ?"
	if q.recorded != "" {
		where += " AND " + q.recorded + " <= ?"
	}
	if q.afterID != "" {
		where += " AND (" + q.sortBy + ", id) " + cmp + " (?, ?)"
	}
	return "SELECT " + q.columns + " FROM " + q.table + " WHERE " + where +
		" ORDER BY " + q.sortBy + " " + dir + ", id " + dir
}

// sortKey is the sort column's value of the row q pages after.
func sortKey(ctx context.Context, db *sqlitex.Stmts, q listQuery) (int64, error) {
	var key int64
	query, args := "SELECT "+q.sortBy+" FROM "+q.table+" WHERE id = ? AND user_id = ?", []any{q.afterID, q.userID}
	if q.recorded != "" { // a row recorded later was not on any page then
		query, args = query+" AND "+q.recorded+" <= ?", append(args, q.asOf)
	}
	err := db.QueryRow(ctx, query, args...).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: not one of the user's %s", ErrInvalidCursor, q.table)
	}
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", q.table, err)
	}
	return key, nil
}

// getRow reads the user's row id of table; ErrNotFound when the user has
// none (another user's row included).
func getRow[T any](ctx context.Context, db *sqlitex.Stmts, table, columns, userID, id string, scan func(scanner) (T, error)) (T, error) {
	row := db.QueryRow(brief(ctx), "SELECT "+columns+" FROM "+table+" WHERE id = ? AND user_id = ?", id, userID)
	item, err := scan(row)
	if errors.Is(err, sql.ErrNoRows) {
		return item, fmt.Errorf("%s %s: %w", table, id, ErrNotFound)
	}
	if err != nil {
		return item, fmt.Errorf("read %s %s: %w", table, id, err)
	}
	return item, nil
}

// brief is ctx for a query that reads a few rows by an index: one that
// cannot be canceled. Such a query is over in microseconds, before a
// cancellation could stop it, while a cancelable context has database/sql
// and the driver each start a goroutine per query to watch it.
func brief(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}
