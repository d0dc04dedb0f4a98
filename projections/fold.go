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
//
// dropped are the indexes dropIndexes dropped from db, if any: the fold
// creates the unique ones again as soon as it must look a row up by them
// (writeTx.lookups); the others are the caller's to create again, should
// it want them.
func foldLog(ctx context.Context, db *sql.DB, store eventstore.Store, limit, total eventstore.Position, dropped []index, progress func(done, total uint64)) error {
	return foldLogAsOf(ctx, db, store, limit, total, time.Time{}, dropped, progress)
}

// foldLogAsOf is foldLog of only the events recorded at or before asOf
// (all of them when zero).
func foldLogAsOf(ctx context.Context, db *sql.DB, store eventstore.Store, limit, total eventstore.Position, asOf time.Time, dropped []index, progress func(done, total uint64)) error {
	f := newFolder(db)
	defer f.Close()
	w, err := f.begin(ctx)
	if err != nil {
		return fmt.Errorf("fold the log: %w", err)
	}
	defer w.rollback()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.foldFresh(ctx, store, dropped)
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

// index is an index of a table, as dropIndexes dropped it.
type index struct {
	name, def string // its name, and the statement that creates it
	unique    bool
}

// dropIndexes drops the indexes of a fresh database, but those SQLite
// makes for its tables' keys, and returns them. An index built once the
// rows are in costs one sorted pass, where kept up row by row it costs a
// random B-tree insert per row and index, most of a long fold's time. A
// fold from the start finds a row by its table's key, or by an order's id
// in the rows it folded last (folder.recent); only when an event changes
// an order folded long before, or places one already placed, does it
// look the row up by id, and it then creates the id's index again first
// (writeTx.lookups).
func dropIndexes(ctx context.Context, db *sql.DB) ([]index, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	var dropped []index
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			rows.Close()
			return nil, err
		}
		// SQLite writes the start of the statement it keeps itself,
		// "CREATE UNIQUE INDEX " for a unique index, whatever the case
		// and spacing it was given in.
		ix.unique = strings.HasPrefix(ix.def, "CREATE UNIQUE INDEX ")
		dropped = append(dropped, ix)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for _, ix := range dropped {
		if _, err := db.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(ix.name, `"`, `""`)+`"`); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return dropped, nil
}

// createIndexes creates again those of the indexes dropIndexes dropped
// that the fold did not (writeTx.lookups).
func createIndexes(ctx context.Context, db *sql.DB, dropped []index) error {
	for _, ix := range dropped {
		var there bool
		err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)`, ix.name).Scan(&there)
		if err == nil && !there {
			_, err = db.ExecContext(ctx, ix.def)
		}
		if err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, err)
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
