package projections

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// As-of reads (api.md, "History: as-of reads") answer a list as the ledger
// stood at a moment: as folded from the events recorded at or before it.
//
// They are folded by the read models' own code (applyBatch), never by a
// second copy of it: the rows a list would show are those recorded by
// then (placed_rec, created_rec); those not changed since (changed_rec)
// are shown as they are, the others are folded again from their streams,
// up to the moment, into a small database in memory, and shown from there.
// Sort keys (created_at, amount) never change after a row is written, so
// the as-of list keeps the current list's order, paging and index: a page
// costs a current page's, plus a stream read for each of its rows changed
// since. Cards are few per user: their list is folded from the wallet's
// stream into the same small database and paged there.

// asOfDB is the database in memory that as-of reads fold into, one fold
// at a time.
type asOfDB struct {
	mu  sync.Mutex
	db  *sql.DB // nil until first used, and after a failed fold
	st  *sqlitex.Stmts
	log eventstore.Store
}

// SetLog gives the read models the log that as-of reads fold from.
func (rm *ReadModels) SetLog(store eventstore.Store) { rm.asOf.log = store }

// fold folds the events of streams recorded at or before at into the
// emptied database and calls read on it, all under its lock.
func (a *asOfDB) fold(ctx context.Context, streams []string, at time.Time, read func(*sqlitex.Stmts) error) error {
	if a.log == nil {
		return errors.New("as-of read: the read models have no log to fold")
	}
	var recs []eventstore.RecordedEvent
	for _, s := range streams {
		got, err := readStream(ctx, a.log, s, at)
		if err != nil {
			return err
		}
		recs = append(recs, got...)
	}
	slices.SortFunc(recs, func(x, y eventstore.RecordedEvent) int { return cmp.Compare(x.Position, y.Position) })

	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.reset(ctx); err != nil {
		return err
	}
	f := newFolder(a.db)
	defer f.Close()
	if err := f.applyBatch(ctx, decode(recs)); err != nil {
		a.discard()
		return fmt.Errorf("as-of read: fold: %w", err)
	}
	return read(a.st)
}

// reset empties the database, opening it first when needed.
func (a *asOfDB) reset(ctx context.Context) error {
	if a.db == nil {
		db, err := openWriter(ctx, ":memory:", scratch)
		if err != nil {
			return fmt.Errorf("as-of read: %w", err)
		}
		a.db, a.st = db, sqlitex.NewStmts(db)
		return nil
	}
	for _, t := range []string{"orders", "subscriptions", "payment_methods", "checkpoint"} {
		if _, err := a.db.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			a.discard()
			return fmt.Errorf("as-of read: %w", err)
		}
	}
	return nil
}

// discard drops the database after a failure (it has no journal to roll
// back with): the next read opens a new one.
func (a *asOfDB) discard() {
	if a.db != nil {
		a.st.Close()
		a.db.Close()
		a.db, a.st = nil, nil
	}
}

func (a *asOfDB) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.discard()
}

// readStream returns stream's events recorded at or before at.
func readStream(ctx context.Context, store eventstore.Store, stream string, at time.Time) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	for from := uint64(0); ; {
		recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, from, 1024)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("as-of read: %s: %w", stream, err)
		}
		for _, r := range recs {
			if !r.RecordedAt.After(at) {
				out = append(out, r)
			}
		}
		if len(recs) < 1024 {
			return out, nil
		}
		from = recs[len(recs)-1].Revision + 1
	}
}

// asOfOrder is a row of an as-of page of orders: its body as stored, and
// when it last changed.
type asOfOrder struct {
	RawOrder
	changed int64
}

// ordersAsOf is Orders at q.AsOf.
func (rm *ReadModels) ordersAsOf(ctx context.Context, userID, sortBy string, q OrderQuery) ([]RawOrder, bool, error) {
	at := q.AsOf.UnixNano()
	rows, hasMore, err := listPage(ctx, rm.queries, listQuery{
		table: "orders", columns: "id, body, changed_rec", sortBy: sortBy, desc: q.Desc,
		userID: userID, afterID: q.AfterID, limit: q.Limit, recorded: "placed_rec", asOf: at,
	}, func(s scanner) (asOfOrder, error) {
		var o asOfOrder
		return o, s.Scan(&o.ID, (*[]byte)(&o.JSON), &o.changed)
	})
	if err != nil {
		return nil, false, err
	}
	var since []string // changed after at: folded again
	for _, o := range rows {
		if o.changed > at {
			since = append(since, domain.OrderID(o.ID).Stream())
		}
	}
	folded, err := refolded(ctx, &rm.asOf, since, q.AsOf, "SELECT id, body FROM orders", func(s scanner) (RawOrder, error) {
		var o RawOrder
		return o, s.Scan(&o.ID, (*[]byte)(&o.JSON))
	}, func(o RawOrder) string { return o.ID })
	if err != nil {
		return nil, false, err
	}
	out := make([]RawOrder, len(rows))
	for i, o := range rows {
		out[i] = o.RawOrder
		if f, ok := folded[o.ID]; ok {
			out[i] = f
		}
	}
	return out, hasMore, nil
}

// asOfSubscription is a row of an as-of page of subscriptions.
type asOfSubscription struct {
	Subscription
	changed int64
}

// subscriptionsAsOf is Subscriptions at p.AsOf.
func (rm *ReadModels) subscriptionsAsOf(ctx context.Context, q listQuery, asOf time.Time) ([]Subscription, bool, error) {
	q.columns, q.recorded, q.asOf = subscriptionColumns+", changed_rec", "created_rec", asOf.UnixNano()
	rows, hasMore, err := listPage(ctx, rm.queries, q, func(s scanner) (asOfSubscription, error) {
		var sub asOfSubscription
		var err error
		sub.Subscription, err = scanSubscription(withLast(s, &sub.changed))
		return sub, err
	})
	if err != nil {
		return nil, false, err
	}
	var since []string
	for _, s := range rows {
		if s.changed > q.asOf {
			since = append(since, domain.SubscriptionID(s.ID).Stream())
		}
	}
	folded, err := refolded(ctx, &rm.asOf, since, asOf, "SELECT "+subscriptionColumns+" FROM subscriptions", scanSubscription,
		func(s Subscription) string { return s.ID })
	if err != nil {
		return nil, false, err
	}
	out := make([]Subscription, len(rows))
	for i, s := range rows {
		out[i] = s.Subscription
		if f, ok := folded[s.ID]; ok {
			out[i] = f
		}
	}
	return out, hasMore, nil
}

// refolded folds streams up to asOf and returns the rows query reads from
// the fold, by id.
func refolded[T any](ctx context.Context, a *asOfDB, streams []string, asOf time.Time, query string, scan func(scanner) (T, error), id func(T) string) (map[string]T, error) {
	out := map[string]T{}
	if len(streams) == 0 {
		return out, nil
	}
	err := a.fold(ctx, streams, asOf, func(st *sqlitex.Stmts) error {
		r, err := st.Query(ctx, query)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			it, err := scan(r)
			if err != nil {
				return err
			}
			out[id(it)] = it
		}
		return r.Err()
	})
	return out, err
}

// paymentMethodsAsOf is PaymentMethods at asOf: the user's wallet folded
// up to then, and paged by the same query.
func (rm *ReadModels) paymentMethodsAsOf(ctx context.Context, q listQuery, asOf time.Time) (items []PaymentMethod, hasMore bool, err error) {
	err = rm.asOf.fold(ctx, []string{domain.WalletStream(q.userID)}, asOf, func(st *sqlitex.Stmts) error {
		items, hasMore, err = listPage(ctx, st, q, scanPaymentMethod)
		return err
	})
	return items, hasMore, err
}

// withLast is s scanning its last column into last.
func withLast(s scanner, last *int64) scanner { return lastScanner{s, last} }

type lastScanner struct {
	s    scanner
	last *int64
}

func (l lastScanner) Scan(dest ...any) error { return l.s.Scan(append(dest, l.last)...) }

// ParseAsOf reads an as_of parameter: an RFC 3339 time, not after now.
func ParseAsOf(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("as_of %q is not an RFC 3339 time (2026-11-24T17:00:00Z)", s)
	case t.After(now):
		return time.Time{}, fmt.Errorf("as_of %s is after the server's now, %s", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return t, nil
}
