package projections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// VerifyAsOf checks the as-of reads of the read models at path against
// the log: what `billing verify --as-of` runs, also beside a running
// server. It folds the events recorded at or before asOf into a temporary
// database, then, for every user of either side, pages through the three
// lists as of asOf on the live read models and compares them, row by row
// and in order, with that fold. It returns one line per difference, such
// as
//
//	orders ord_…: as of 2026-…: live={…} rebuilt={…}
//	subscriptions sub_…: as of 2026-…: missing from live
//
// and none when they are equal.
func VerifyAsOf(ctx context.Context, store eventstore.Store, path string, asOf time.Time, progress func(done, total uint64)) ([]string, error) {
	live, err := OpenReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("verify as-of reads: %w", err)
	}
	defer live.Close()
	live.SetLog(store)
	head, err := store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify as-of reads: %w", err)
	}
	dir, err := os.MkdirTemp("", "billing-verify-")
	if err != nil {
		return nil, fmt.Errorf("verify as-of reads: %w", err)
	}
	defer os.RemoveAll(dir)
	aside, err := openWriter(ctx, filepath.Join(dir, "readmodels.db"), foldAside)
	if err != nil {
		return nil, fmt.Errorf("verify as-of reads: %w", err)
	}
	defer aside.Close()
	if err := foldLogAsOf(ctx, aside, store, head, head, asOf, nil, progress); err != nil {
		return nil, fmt.Errorf("verify as-of reads: rebuild aside: %w", err)
	}
	rebuilt := sqlitex.NewStmts(aside)
	defer rebuilt.Close()
	users, err := usersOf(ctx, live.readers, aside)
	if err != nil {
		return nil, fmt.Errorf("verify as-of reads: %w", err)
	}
	r := &report{}
	when := asOf.UTC().Format(time.RFC3339Nano)
	for _, u := range users {
		for _, l := range asOfLists() {
			got, err := l.live(ctx, live, u, asOf)
			if err != nil {
				return nil, fmt.Errorf("verify as-of reads: %s of %s: %w", l.name, u, err)
			}
			want, err := l.rebuilt(ctx, rebuilt, u)
			if err != nil {
				return nil, fmt.Errorf("verify as-of reads: %s of %s: %w", l.name, u, err)
			}
			compareList(r, l.name, when, got, want)
		}
	}
	return r.lines(), nil
}

// row is a list's row as JSON, named by its id.
type row struct {
	id   string
	json []byte
}

// asOfList reads one list of a user: as of a time from live read models,
// and whole from a fold up to that time.
type asOfList struct {
	name    string
	live    func(ctx context.Context, rm *ReadModels, user string, asOf time.Time) ([]row, error)
	rebuilt func(ctx context.Context, st *sqlitex.Stmts, user string) ([]row, error)
}

func asOfLists() []asOfList {
	return []asOfList{
		{"orders",
			func(ctx context.Context, rm *ReadModels, user string, asOf time.Time) ([]row, error) {
				var out []row
				for after := ""; ; {
					page, more, err := rm.Orders(ctx, user, OrderQuery{Limit: MaxLimit, AfterID: after, SortBy: "created_at", Desc: true, AsOf: asOf})
					if err != nil {
						return nil, err
					}
					for _, o := range page {
						out = append(out, row{o.ID, o.JSON})
					}
					if !more {
						return out, nil
					}
					after = page[len(page)-1].ID
				}
			},
			func(ctx context.Context, st *sqlitex.Stmts, user string) ([]row, error) {
				return rows(ctx, st, `SELECT id, body FROM orders WHERE user_id = ? ORDER BY created_at DESC, id DESC`, user,
					func(s scanner) (row, error) {
						var r row
						return r, s.Scan(&r.id, &r.json)
					})
			}},
		{"subscriptions",
			func(ctx context.Context, rm *ReadModels, user string, asOf time.Time) ([]row, error) {
				return pages(func(cursor string) ([]Subscription, string, error) {
					return rm.Subscriptions(ctx, user, Page{Limit: MaxLimit, Cursor: cursor, AsOf: asOf})
				}, func(s Subscription) string { return s.ID })
			},
			func(ctx context.Context, st *sqlitex.Stmts, user string) ([]row, error) {
				return rows(ctx, st, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE user_id = ? ORDER BY created_at DESC, id DESC`, user,
					jsonRow(scanSubscription, func(s Subscription) string { return s.ID }))
			}},
		{"payment_methods",
			func(ctx context.Context, rm *ReadModels, user string, asOf time.Time) ([]row, error) {
				return pages(func(cursor string) ([]PaymentMethod, string, error) {
					return rm.PaymentMethods(ctx, user, Page{Limit: MaxLimit, Cursor: cursor, AsOf: asOf})
				}, func(pm PaymentMethod) string { return pm.ID })
			},
			func(ctx context.Context, st *sqlitex.Stmts, user string) ([]row, error) {
				return rows(ctx, st, `SELECT `+paymentMethodColumns+` FROM payment_methods WHERE user_id = ? ORDER BY created_at DESC, id DESC`, user,
					jsonRow(scanPaymentMethod, func(pm PaymentMethod) string { return pm.ID }))
			}},
	}
}

// pages reads every page of a cursor-paged list.
func pages[T any](page func(cursor string) ([]T, string, error), id func(T) string) ([]row, error) {
	var out []row
	for cursor := ""; ; {
		items, next, err := page(cursor)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return nil, err
			}
			out = append(out, row{id(it), b})
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

func jsonRow[T any](scan func(scanner) (T, error), id func(T) string) func(scanner) (row, error) {
	return func(s scanner) (row, error) {
		it, err := scan(s)
		if err != nil {
			return row{}, err
		}
		b, err := json.Marshal(it)
		return row{id(it), b}, err
	}
}

func rows(ctx context.Context, st *sqlitex.Stmts, query, user string, scan func(scanner) (row, error)) ([]row, error) {
	r, err := st.Query(ctx, query, user)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []row
	for r.Next() {
		it, err := scan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, r.Err()
}

// compareList reports how the live as-of list got differs from want, the
// fold's, row by row in order.
func compareList(r *report, name, when string, got, want []row) {
	wantByID := map[string][]byte{}
	for _, w := range want {
		wantByID[w.id] = w.json
	}
	gotByID := map[string]bool{}
	for i, g := range got {
		gotByID[g.id] = true
		w, ok := wantByID[g.id]
		switch {
		case !ok:
			r.add("%s %s: as of %s: only in live", name, g.id, when)
		case !bytes.Equal(g.json, w):
			r.add("%s %s: as of %s: live=%s rebuilt=%s", name, g.id, when, g.json, w)
		case i >= len(want) || want[i].id != g.id:
			r.add("%s %s: as of %s: out of order", name, g.id, when)
		}
	}
	for _, w := range want {
		if !gotByID[w.id] {
			r.add("%s %s: as of %s: missing from live", name, w.id, when)
		}
	}
}

// usersOf lists the users of either read models.
func usersOf(ctx context.Context, live, aside *sql.DB) ([]string, error) {
	seen := map[string]bool{}
	var users []string
	for _, db := range []*sql.DB{live, aside} {
		r, err := db.QueryContext(ctx, `SELECT user_id FROM orders UNION SELECT user_id FROM subscriptions UNION SELECT user_id FROM payment_methods`)
		if err != nil {
			return nil, err
		}
		for r.Next() {
			var u string
			if err := r.Scan(&u); err != nil {
				r.Close()
				return nil, err
			}
			if !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
		}
		if err := r.Close(); err != nil {
			return nil, err
		}
	}
	return users, nil
}
