package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/robotlabor/billing/eventstore"
)

// Rebuild replaces the read models at path with ones folded afresh from the
// whole log: what `billing projections rebuild` runs. It builds them in
// path+".rebuild", in one transaction, then renames that file over
// path, so that until the rename the old read models stay whole. It calls
// progress, if not nil, after every batch with the position reached and the
// log's head when it started.
//
// It holds the lock on path+".lock" throughout, and returns an error
// wrapping ErrLocked when a running `billing serve` holds it.
func Rebuild(ctx context.Context, store eventstore.Store, path string, progress func(done, total uint64)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("rebuild read models: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer lock.release()
	total, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("rebuild read models: find the log's head: %w", err)
	}
	fresh := path + ".rebuild"
	if err := removeDB(fresh); err != nil { // left by an interrupted rebuild
		return fmt.Errorf("rebuild read models: %w", err)
	}
	if err := build(ctx, store, fresh, total, progress); err != nil {
		return errors.Join(fmt.Errorf("rebuild read models: %w", err), removeDB(fresh))
	}
	if err := replaceDB(ctx, fresh, path); err != nil {
		return fmt.Errorf("rebuild read models: %w", err)
	}
	return checkOpens(ctx, path)
}

// build folds the whole log into a new database at path and leaves it
// closed, in one self-contained file, durable and in WAL mode. It folds
// without fsyncs or a WAL (scratch): until the file is complete and synced,
// nothing uses it, and an interrupted build is removed by the next.
func build(ctx context.Context, store eventstore.Store, path string, total eventstore.Position, progress func(done, total uint64)) error {
	db, err := openWriter(ctx, path, scratch)
	if err != nil {
		return err
	}
	indexes, err := dropIndexes(ctx, db)
	if err == nil {
		err = foldLog(ctx, db, store, toHead, total, indexes, progress)
	}
	if err == nil {
		err = createIndexes(ctx, db, indexes)
	}
	if err == nil {
		_, err = db.ExecContext(ctx, `PRAGMA journal_mode = WAL`)
	}
	if err != nil {
		db.Close()
		return err
	}
	if err := closeSettled(ctx, db, path); err != nil {
		return err
	}
	return syncFile(path)
}

// syncFile makes the file at path durable.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// closeSettled copies the WAL into the database file, closes it and removes
// the WAL and shared-memory files: the file alone then holds every commit,
// and can be renamed.
func closeSettled(ctx context.Context, db *sql.DB, path string) error {
	var busy, frames, copied int
	err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &copied)
	if err == nil && busy != 0 {
		err = fmt.Errorf("checkpoint %s: database busy", path)
	}
	if err = errors.Join(err, db.Close()); err != nil {
		return err
	}
	return removeSidecars(path)
}

// replaceDB renames fresh over path. The old database's WAL must go first,
// or SQLite would replay its stale frames into the new file; checkpointing
// it before keeps the old file whole should the rename never happen.
func replaceDB(ctx context.Context, fresh, path string) error {
	if _, err := os.Stat(path); err == nil {
		settle(ctx, path)
	}
	if err := removeSidecars(path); err != nil {
		return err
	}
	if err := os.Rename(fresh, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// settle checkpoints the database at path, best effort: it is about to be
// replaced, and a file too damaged to open is replaced all the same.
func settle(ctx context.Context, path string) {
	db, err := sql.Open("sqlite", dsn(path, durable))
	if err != nil {
		return
	}
	defer db.Close()
	db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`) //nolint:errcheck // best effort, see above
}

// checkOpens makes sure the rebuilt read models open and read.
func checkOpens(ctx context.Context, path string) error {
	rm, err := OpenReadOnly(ctx, path)
	if err != nil {
		return fmt.Errorf("rebuilt read models: %w", err)
	}
	_, err = rm.Checkpoint(ctx)
	if err = errors.Join(err, rm.Close()); err != nil {
		return fmt.Errorf("rebuilt read models: %w", err)
	}
	return nil
}

func removeDB(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return removeSidecars(path)
}

func removeSidecars(path string) error {
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
