package projections

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/robotlabor/billing/eventstore"
)

// Verify checks the read models at path against the log: what `billing
// verify` runs, also beside a running server (it takes no lock and writes
// nothing there). In one read transaction on the live read models it takes
// their checkpoint P and, later, every row; meanwhile it folds the log up to
// exactly P into a temporary database, then compares the two row by row,
// every column. It returns one line per difference, such as
//
//	orders ord_…: status live=paid rebuilt=refunded
//	orders ord_…: missing from live
//	payment_methods pm_…: only in live
//
// and none when they are equal (past 1000 lines it counts the rest in a
// last line). It calls progress, if not nil, after every batch folded, with
// the position reached and P. While it runs, its read transaction keeps
// SQLite from recycling the live database's WAL, which grows until it ends.
func Verify(ctx context.Context, store eventstore.Store, path string, progress func(done, total uint64)) (diffs []string, err error) {
	live, err := OpenReadOnly(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	defer live.Close()
	// The snapshot starts at the first read: the checkpoint and the rows
	// then come from the same commit, however far the projector moves.
	snap, err := live.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	defer snap.Rollback() //nolint:errcheck // read-only
	at, err := readCheckpoint(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	dir, err := os.MkdirTemp("", "billing-verify-")
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	defer os.RemoveAll(dir)
	aside, err := openWriter(ctx, filepath.Join(dir, "readmodels.db"), foldAside)
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	defer aside.Close()
	// Rows are compared in primary-key order: the aside needs no other index.
	dropped, err := dropIndexes(ctx, aside)
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	if err := foldLog(ctx, aside, store, at, at, dropped, progress); err != nil {
		return nil, fmt.Errorf("verify read models: rebuild aside: %w", err)
	}
	diffs, err = compare(ctx, snap, aside, at)
	if err != nil {
		return nil, fmt.Errorf("verify read models: %w", err)
	}
	return diffs, nil
}
