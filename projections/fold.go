package projections

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// foldBatch is how many events Rebuild and Verify read and commit at once:
// memory stays constant whatever the log's length.
const foldBatch = 1024

// toHead, as foldLog's limit, folds until the log has no more events.
const toHead = eventstore.Position(math.MaxUint64)

// foldLog folds the log from the start into the (fresh) read models at db,
// up to and including position limit, one transaction per batch. It calls
// progress, if not nil, after every batch with the position reached and
// total (raised to it when the log outgrew total).
func foldLog(ctx context.Context, db *sql.DB, store eventstore.Store, limit, total eventstore.Position, progress func(done, total uint64)) error {
	st := sqlitex.NewStmts(db)
	defer st.Close()
	for from := eventstore.Start; from < limit; {
		events, err := store.ReadAll(ctx, from, foldBatch)
		if err != nil {
			return fmt.Errorf("fold the log after %d: %w", from, err)
		}
		events = upTo(events, limit)
		if len(events) == 0 {
			return nil
		}
		if err := applyBatch(ctx, st, events); err != nil {
			return err
		}
		from = events[len(events)-1].Position
		if progress != nil {
			progress(uint64(from), uint64(max(total, from)))
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
