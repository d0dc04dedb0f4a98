package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// ReadModels is the read models' database: queries for the HTTP handlers
// and, when opened with Open, the write side the Projector folds into. It is
// safe for concurrent use.
type ReadModels struct {
	path    string
	readers *sql.DB
	queries *sqlitex.Stmts // the readers' prepared statements
	writer  *sql.DB        // nil when read-only
	folds   *folder        // folds into writer; nil when read-only
	lock    *fileLock      // nil when read-only
	asOf    asOfDB         // what as-of reads fold into
	pages   *firstPages    // first pages of orders as last read; nil when read-only
}

// Open opens the read models at path for reading and folding, creating and
// migrating the database when needed, and holds the exclusive lock on
// path+".lock" until Close: this is how `billing serve` holds them. It
// returns an error wrapping ErrLocked when another process holds them.
func Open(ctx context.Context, path string) (*ReadModels, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	writer, err := openWriter(ctx, path, durable)
	if err != nil {
		lock.release()
		return nil, err
	}
	readers, err := openReaders(ctx, path)
	if err != nil {
		writer.Close()
		lock.release()
		return nil, err
	}
	// Only this process writes the read models, through folds: it knows
	// when a kept page goes stale.
	folds, pages := newFolder(writer), newFirstPages()
	folds.pages = pages
	return &ReadModels{path: path, readers: readers, queries: sqlitex.NewStmts(readers),
		writer: writer, folds: folds, lock: lock, pages: pages}, nil
}

// OpenReadOnly opens existing read models for queries only, without the
// lock and without writing: what `billing verify` uses beside a running
// server. A projector cannot run on them.
func OpenReadOnly(ctx context.Context, path string) (*ReadModels, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open read models read-only: %w", err)
	}
	readers, err := openReaders(ctx, path)
	if err != nil {
		return nil, err
	}
	return &ReadModels{path: path, readers: readers, queries: sqlitex.NewStmts(readers)}, nil
}

// Close closes the database, then releases the lock, so that no rebuild can
// replace the file while this process still has it open.
func (rm *ReadModels) Close() error {
	rm.asOf.close()
	err := errors.Join(rm.queries.Close(), rm.readers.Close())
	if rm.writer != nil {
		err = errors.Join(err, rm.folds.Close(), rm.writer.Close())
	}
	return errors.Join(err, rm.lock.release())
}

// Checkpoint is the position of the last event folded into the read models
// (eventstore.Start before any).
func (rm *ReadModels) Checkpoint(ctx context.Context) (eventstore.Position, error) {
	return readCheckpoint(ctx, rm.readers)
}
