package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// foldBatch is how many events Rebuild and Verify read and fold at once:
// memory stays bounded whatever the log's length (see foldLog). An order
// placed and paid in the same batch is written once.
const foldBatch = 16384

// toHead, as foldLog's limit, folds until the log has no more events.
const toHead = eventstore.Position(math.MaxUint64)

// foldLog folds the log from the start into the (fresh) read models at db,
// up to and including position limit. It calls progress, if not nil, after
// every batch with the position reached and total (raised to it when the
// log outgrew total). Reading and decoding the next batch runs beside
// writing this one: two batches in memory.
//
// It folds in one transaction. A commit writes every page the transaction
// dirtied, and the orders' inserts land all over their id index, so a
// commit per batch wrote the index's pages again and again, about a fifth
// of a million events' fold. Nothing else reads the database while it is
// folded (a scratch file, thrown away should anything fail), and SQLite
// writes dirty pages out once its cache (scratchCache) is
// full: memory stays bounded, and a page is written about once while the
// file fits the cache, a few times when it outgrows it.
func foldLog(ctx context.Context, db *sql.DB, store eventstore.Store, limit, total eventstore.Position, progress func(done, total uint64)) error {
	return foldLogAsOf(ctx, db, store, limit, total, time.Time{}, progress)
}

// foldLogAsOf is foldLog of only the events recorded at or before asOf
// (all of them when zero).
func foldLogAsOf(ctx context.Context, db *sql.DB, store eventstore.Store, limit, total eventstore.Position, asOf time.Time, progress func(done, total uint64)) error {
	f := newFolder(db)
	defer f.Close()
	w, err := f.begin(ctx)
	if err != nil {
		return fmt.Errorf("fold the log: %w", err)
	}
	defer w.rollback()
	w.fresh = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []event, 1)
	read := make(chan error, 1)
	go func() {
		defer close(batches)
		read <- readLog(ctx, store, limit, asOf, batches)
	}()
	for batch := range batches {
		if _, err := w.fold(ctx, batch); err != nil {
			cancel()
			for range batches { // let the reader stop
			}
			return err
		}
		w.settle(nil)
		from := batch[len(batch)-1].rec.Position
		if progress != nil {
			progress(uint64(from), uint64(max(total, from)))
		}
	}
	if err := <-read; err != nil {
		return err
	}
	if err := w.commit(ctx); err != nil {
		return fmt.Errorf("fold the log: %w", err)
	}
	return nil
}

// readLog sends the log's events up to limit, decoded, in batches.
func readLog(ctx context.Context, store eventstore.Store, limit eventstore.Position, asOf time.Time, batches chan<- []event) error {
	for from := eventstore.Start; from < limit; {
		events, err := store.ReadAll(ctx, from, foldBatch)
		if err != nil {
			return fmt.Errorf("fold the log after %d: %w", from, err)
		}
		events = upTo(events, limit)
		if len(events) == 0 {
			return nil
		}
		from = events[len(events)-1].Position
		if !asOf.IsZero() {
			events = slices.DeleteFunc(events, func(e eventstore.RecordedEvent) bool { return e.RecordedAt.After(asOf) })
			if len(events) == 0 {
				continue
			}
		}
		select {
		case batches <- decode(events):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// dropIndexes drops the secondary indexes of a fresh database that no
// fold reads, and returns their definitions. Folding from the start only
// ever looks a row up by its id (a primary key, or a unique index, which
// stays); an index built once the rows are in costs one sorted pass, where
// kept up row by row it costs a random B-tree insert per row and index,
// most of a long fold's time.
func dropIndexes(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE INDEX%'`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := db.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return defs, nil
}

// createIndexes creates the indexes dropIndexes dropped.
func createIndexes(ctx context.Context, db *sql.DB, defs []string) error {
	for _, def := range defs {
		if _, err := db.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	return nil
}

// upTo keeps the events at or below limit.
func upTo(events []eventstore.RecordedEvent, limit eventstore.Position) []eventstore.RecordedEvent {
	for i, e := range events {
		if e.Position > limit {
			return events[:i]
		}
	}
	return events
}
