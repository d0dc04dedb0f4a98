package projections

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// maxDiffs bounds the lines compare lists; it counts the rest, so read
// models wrong throughout still give a short, truthful report.
const maxDiffs = 1000

// table names a read model's table and its columns, the primary key first.
// Columns named in times hold unix nanoseconds and are shown as times.
type table struct {
	name    string
	columns []string
	times   []string
}

func comparedTables() []table {
	return []table{
		{name: "payment_methods", columns: []string{"id", "user_id", "brand", "last4", "exp_month", "exp_year", "created_at"},
			times: []string{"created_at"}},
		{name: "orders", columns: []string{"id", "user_id", "created_at", "amount", "status", "body"},
			times: []string{"created_at"}},
		{name: "subscriptions", columns: []string{"id", "user_id", "plan_id", "order_id", "status",
			"current_period_start", "current_period_end", "canceled_at", "created_at"},
			times: []string{"current_period_start", "current_period_end", "canceled_at", "created_at"}},
	}
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	sqlitex.QueryRower
}

// compare lists the differences between the live read models, read at
// position at, and those rebuilt aside. Tables stream in primary-key order
// from both sides and merge, so memory stays constant.
func compare(ctx context.Context, live, rebuilt querier, at eventstore.Position) ([]string, error) {
	r := &report{}
	got, err := readCheckpoint(ctx, rebuilt)
	if err != nil {
		return nil, err
	}
	if got != at {
		r.add("checkpoint: position live=%d rebuilt=%d", at, got)
	}
	for _, t := range comparedTables() {
		if err := compareTable(ctx, live, rebuilt, t, r); err != nil {
			return nil, fmt.Errorf("compare %s: %w", t.name, err)
		}
	}
	return r.lines(), nil
}

func compareTable(ctx context.Context, live, rebuilt querier, t table, r *report) error {
	q := "SELECT " + strings.Join(t.columns, ", ") + " FROM " + t.name + " ORDER BY id"
	lrows, err := live.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer lrows.Close()
	rrows, err := rebuilt.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rrows.Close()
	l, lerr := nextRow(lrows, t)
	b, berr := nextRow(rrows, t)
	for lerr == nil && berr == nil && (l != nil || b != nil) {
		switch {
		case b == nil || (l != nil && l[0] < b[0]):
			r.add("%s %s: only in live", t.name, l[0])
			l, lerr = nextRow(lrows, t)
		case l == nil || b[0] < l[0]:
			r.add("%s %s: missing from live", t.name, b[0])
			b, berr = nextRow(rrows, t)
		default:
			for i := 1; i < len(t.columns); i++ {
				if l[i] != b[i] {
					r.add("%s %s: %s live=%s rebuilt=%s", t.name, l[0], t.columns[i], l[i], b[i])
				}
			}
			l, lerr = nextRow(lrows, t)
			b, berr = nextRow(rrows, t)
		}
	}
	if lerr != nil {
		return lerr
	}
	return berr
}

// nextRow reads the next row as display strings; nil at the end.
func nextRow(rows *sql.Rows, t table) ([]string, error) {
	if !rows.Next() {
		return nil, rows.Err()
	}
	values := make([]any, len(t.columns))
	ptrs := make([]any, len(values))
	for i := range values {
		ptrs[i] = &values[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = display(v, slices.Contains(t.times, t.columns[i]))
	}
	return row, nil
}

func display(v any, isTime bool) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case []byte:
		return string(v)
	case int64:
		if isTime {
			return fromNanos(v).Format(time.RFC3339Nano)
		}
	}
	return fmt.Sprint(v)
}

// report collects up to maxDiffs lines and counts the rest.
type report struct {
	listed []string
	more   int
}

func (r *report) add(format string, args ...any) {
	if len(r.listed) < maxDiffs {
		r.listed = append(r.listed, fmt.Sprintf(format, args...))
		return
	}
	r.more++
}

func (r *report) lines() []string {
	if r.more > 0 {
		return append(r.listed, fmt.Sprintf("… and %d more differences", r.more))
	}
	return r.listed
}
