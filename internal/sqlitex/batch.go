package sqlitex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrBatchClosed is the error of a call made to, or queued in, a closed Batch.
var ErrBatchClosed = errors.New("sqlitex: batch closed")

// Batch runs writes in shared transactions: group commit. While one
// transaction commits (and, with synchronous=FULL, fsyncs), the calls that
// arrive queue up, and the next transaction runs them all and commits
// once. Each call runs in a savepoint of its own, so a call that fails
// leaves nothing behind and does not affect the others; Do returns only
// after the transaction holding the call committed, so a nil error means
// durable.
type Batch struct {
	db     *sql.DB
	stmts  *Stmts
	queue  chan *batchCall
	stop   chan struct{}
	done   chan struct{}
	max    int
	linger time.Duration
}

type batchCall struct {
	ctx   context.Context
	fn    func(context.Context, *Tx) error
	reply chan error // buffered: the batch never blocks on it
}

// NewBatch starts a batch on db, which should have one connection (SQLite
// has one writer anyway), running at most max calls per transaction, with
// statements prepared once (see Tx). A busy batch waits up to linger for
// more calls before it commits (see Gather; 0: never). Close stops it.
func NewBatch(db *sql.DB, max int, linger time.Duration) *Batch {
	b := &Batch{db: db, stmts: NewStmts(db), queue: make(chan *batchCall, 4*max), stop: make(chan struct{}), done: make(chan struct{}),
		max: max, linger: linger}
	go b.run()
	return b
}

// Do runs fn in a transaction shared with other calls, inside a savepoint,
// and returns once that transaction committed: fn's error when fn failed
// (its writes undone), the commit's when the transaction failed (nothing
// of fn kept), ErrBatchClosed, or ctx's error when ctx ended before fn ran.
// fn runs on the batch's goroutine and must not call Do. Once fn has
// started it runs to its end: the context it is given carries ctx's
// values but not its cancellation, so a caller that gives up cannot tear
// a transaction other calls share. Do still waits for the commit then,
// and the caller learns whether its call was kept.
func (b *Batch) Do(ctx context.Context, fn func(context.Context, *Tx) error) error {
	c := &batchCall{ctx: ctx, fn: fn, reply: make(chan error, 1)}
	select {
	case b.queue <- c:
	case <-b.stop:
		return ErrBatchClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-b.done:
		// Stopped; the call may have been in the last transaction.
		select {
		case err := <-c.reply:
			return err
		default:
			return ErrBatchClosed
		}
	}
}

// Close stops the batch after the transaction in flight; queued calls
// fail with ErrBatchClosed. It does not close the database.
func (b *Batch) Close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	for {
		select {
		case c := <-b.queue:
			c.reply <- ErrBatchClosed
		default:
			b.stmts.Close() //nolint:errcheck // closing
			return
		}
	}
}

func (b *Batch) run() {
	defer close(b.done)
	g := Gather[*batchCall]{Queue: b.queue, Stop: b.stop, Max: b.max, Linger: b.linger}
	calls := make([]*batchCall, 0, b.max)
	for {
		var ok bool
		if calls, ok = g.Next(calls); !ok {
			return
		}
		b.commit(calls)
	}
}

// commit runs calls in one transaction and replies to each.
func (b *Batch) commit(calls []*batchCall) {
	errs := make([]error, len(calls))
	txErr := b.runTx(calls, errs)
	for i, c := range calls {
		if txErr != nil && errs[i] == nil {
			errs[i] = txErr
		}
		c.reply <- errs[i]
	}
}

func (b *Batch) runTx(calls []*batchCall, errs []error) error {
	ctx := context.Background() // the transaction is no one caller's
	sqlTx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	tx := b.stmts.Wrap(sqlTx)
	defer func() {
		tx.Rollback() //nolint:errcheck // no-op after Commit
		tx.Done(ctx)
	}()
	for i, c := range calls {
		if err := c.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT call`); err != nil {
			return err
		}
		if errs[i] = c.fn(context.WithoutCancel(c.ctx), tx); errs[i] != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO call`); err != nil {
				return fmt.Errorf("undo a failed call: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE call`); err != nil {
			return err
		}
	}
	return tx.Commit()
}
