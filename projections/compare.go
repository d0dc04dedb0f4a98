package projections

import (
	"bytes"
	"cmp"
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

// table names a read model's table and its columns: first the key, the
// columns the table is stored in the order of (its primary key), so that
// both sides stream in storage order without a lookup per row. Columns
// named in times hold unix nanoseconds and are shown as times.
type table struct {
	name    string
	columns []string
	key     int // the first key columns are the primary key
	id      int // the column that names a row in the report
	times   []string
}

func comparedTables() []table {
	return []table{
		{name: "payment_methods", columns: []string{"id", "user_id", "brand", "last4", "exp_month", "exp_year", "created_at"},
			key: 1, times: []string{"created_at"}},
		// A row whose key columns differ (its user or creation time) shows as
		// one row only in live and one missing from live, both named by id.
		{name: "orders", columns: []string{"user_id", "created_at", "id", "amount", "status", "body", "placed_rec", "changed_rec"},
			key: 3, id: 2, times: []string{"created_at", "placed_rec", "changed_rec"}},
		{name: "subscriptions", columns: []string{"id", "user_id", "plan_id", "order_id", "status",
			"current_period_start", "current_period_end", "canceled_at", "created_at", "payment_method_id", "cancel_at_period_end",
			"cancel_reason", "next_due_at", "cancel_confirmed", "created_rec", "changed_rec"},
			key: 1, times: []string{"current_period_start", "current_period_end", "canceled_at", "created_at", "next_due_at", "created_rec", "changed_rec"}},
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
	q := "SELECT " + strings.Join(t.columns, ", ") + " FROM " + t.name + " ORDER BY " + strings.Join(t.columns[:t.key], ", ")
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
	nextLive, stop := readAhead(lrows, len(t.columns))
	defer stop()
	l, lerr := nextLive()
	b, berr := nextRow(rrows, len(t.columns))
	for lerr == nil && berr == nil && (l != nil || b != nil) {
		order := 0
		switch {
		case b == nil:
			order = -1
		case l == nil:
			order = 1
		default:
			order = compareKeys(l[:t.key], b[:t.key])
		}
		switch {
		case order < 0:
			r.add("%s %s: only in live", t.name, display(l[t.id], false))
			l, lerr = nextLive()
		case order > 0:
			r.add("%s %s: missing from live", t.name, display(b[t.id], false))
			b, berr = nextRow(rrows, len(t.columns))
		default:
			for i := t.key; i < len(t.columns); i++ {
				if !sameValue(l[i], b[i]) {
					isTime := slices.Contains(t.times, t.columns[i])
					r.add("%s %s: %s live=%s rebuilt=%s", t.name, display(l[t.id], false), t.columns[i],
						display(l[i], isTime), display(b[i], isTime))
				}
			}
			l, lerr = nextLive()
			b, berr = nextRow(rrows, len(t.columns))
		}
	}
	if lerr != nil {
		return lerr
	}
	return berr
}

// readAhead reads rows on another goroutine, up to two chunks ahead of
// its caller, so that comparing reads both sides at once, on two cores.
// next returns the next row's values, nil at the end; stop ends the
// reading, and must be called before rows is closed.
func readAhead(rows *sql.Rows, n int) (next func() ([]any, error), stop func()) {
	const chunk = 256
	chunks, quit, done := make(chan [][]any, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(chunks)
		for {
			c := make([][]any, 0, chunk)
			var err error
			for len(c) < chunk && err == nil {
				var values []any
				if values, err = nextRow(rows, n); values == nil {
					break
				}
				c = append(c, values)
			}
			select {
			case chunks <- c:
			case <-quit:
				done <- nil
				return
			}
			if len(c) < chunk || err != nil {
				done <- err
				return
			}
		}
	}()
	var (
		c     [][]any
		ended bool
		err   error
	)
	next = func() ([]any, error) {
		for len(c) == 0 {
			if ended {
				return nil, err
			}
			var ok bool
			if c, ok = <-chunks; !ok {
				ended, err = true, <-done
			}
		}
		values := c[0]
		c = c[1:]
		return values, nil
	}
	stop = func() {
		close(quit)
		for range chunks {
		}
	}
	return next, stop
}

// nextRow reads the next row's values; nil at the end.
func nextRow(rows *sql.Rows, n int) ([]any, error) {
	if !rows.Next() {
		return nil, rows.Err()
	}
	values := make([]any, n)
	ptrs := make([]any, n)
	for i := range values {
		ptrs[i] = &values[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return values, nil
}

// compareKeys orders two keys column by column as SQLite's ORDER BY does
// for the values a key holds (integers, text).
func compareKeys(a, b []any) int {
	for i := range a {
		if c := compareValues(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareValues(a, b any) int {
	switch a := a.(type) {
	case int64:
		if b, ok := b.(int64); ok {
			return cmp.Compare(a, b)
		}
	case string:
		if b, ok := b.(string); ok {
			return strings.Compare(a, b)
		}
	}
	return strings.Compare(display(a, false), display(b, false))
}

func sameValue(a, b any) bool {
	if a, ok := a.([]byte); ok {
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
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
