package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// writer owns the one write connection. Appends queue up while a commit is
// in flight and are all committed by the next transaction: group commit.
type writer struct {
	db       *sql.DB
	stmts    *statements
	queue    chan *appendReq
	stop     chan struct{}
	done     chan struct{}
	maxBatch int
	linger   time.Duration
	now      func() time.Time
	stamp    int64                            // last RecordedAt in unix nanos; keeps them monotonic
	onCommit func([]eventstore.RecordedEvent) // after a commit that wrote events, with them
	heads    *heads                           // streams whose every event this writer knows
	numbers  *lru.Cache[string, int64]        // the store's: the numbers of the streams committed
}

type appendReq struct {
	ctx      context.Context
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
	reply    chan appendReply // buffered: the writer never blocks on it
}

type appendReply struct {
	res eventstore.AppendResult
	err error
	no  int64 // the stream's number, for the writer's own records
}

func openWriter(ctx context.Context, cfg Config, onCommit func([]eventstore.RecordedEvent), numbers *lru.Cache[string, int64]) (*writer, error) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(cfg.Path, false, false))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	if err := sqlitex.Migrate(ctx, db, "event store", migrations); err != nil {
		db.Close()
		return nil, err
	}
	stmts, err := prepare(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	w := &writer{
		db:       db,
		stmts:    stmts,
		queue:    make(chan *appendReq, 4*cfg.MaxBatch),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		maxBatch: cfg.MaxBatch,
		linger:   cfg.Linger,
		now:      cfg.Now,
		onCommit: onCommit,
		heads:    newHeads(),
		numbers:  numbers,
	}
	go w.run()
	return w, nil
}

func (w *writer) append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (eventstore.AppendResult, error) {
	req := &appendReq{ctx: ctx, stream: stream, expected: expected, events: events, reply: make(chan appendReply, 1)}
	select {
	case w.queue <- req:
	case <-w.stop:
		return eventstore.AppendResult{}, eventstore.ErrClosed
	case <-ctx.Done():
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.res, r.err
	case <-w.done:
		select {
		case r := <-req.reply:
			return r.res, r.err
		default:
			return eventstore.AppendResult{}, eventstore.ErrClosed
		}
	case <-ctx.Done():
		// The append may still commit; retrying it with the same event
		// ids is safe and tells the outcome.
		return eventstore.AppendResult{}, ctx.Err()
	}
}

func (w *writer) run() {
	defer close(w.done)
	g := sqlitex.Gather[*appendReq]{Queue: w.queue, Stop: w.stop, Max: w.maxBatch, Linger: w.linger}
	batch := make([]*appendReq, 0, w.maxBatch)
	for {
		var ok bool
		if batch, ok = g.Next(batch); !ok {
			return
		}
		w.commit(batch)
	}
}

func (w *writer) close() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	for {
		select {
		case req := <-w.queue:
			req.reply <- appendReply{err: eventstore.ErrClosed}
		default:
			return w.db.Close()
		}
	}
}

// commit writes a batch in one transaction. Refusals (conflicts, invalid
// appends) are per request and leave the others unaffected; a storage error
// fails the transaction, and then each request is tried alone so that one
// bad append cannot fail its neighbours.
func (w *writer) commit(batch []*appendReq) {
	live := batch[:0:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.reply <- appendReply{err: err}
			continue
		}
		live = append(live, req)
	}
	if len(live) == 0 {
		return
	}
	replies, err := w.commitTx(live)
	if err != nil && len(live) > 1 {
		for _, req := range live {
			w.commit([]*appendReq{req})
		}
		return
	}
	for i, req := range live {
		if err != nil {
			req.reply <- appendReply{err: fmt.Errorf("append to %s: %w", req.stream, err)}
			continue
		}
		req.reply <- replies[i]
	}
}

func (w *writer) commitTx(batch []*appendReq) ([]appendReply, error) {
	ctx := context.Background() // a batch is not owned by any one caller
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	stamp := w.now().UnixNano()
	if stamp < w.stamp {
		stamp = w.stamp
	}
	w.stamp = stamp
	replies := make([]appendReply, len(batch))
	wrote := false
	btx := bind(ctx, tx, w.stmts)
	btx.heads, btx.numbers = w.heads, w.numbers
	for i, req := range batch {
		res, no, err := btx.append(req, stamp)
		if err != nil && !isRefusal(err) {
			return nil, err
		}
		replies[i] = appendReply{res: res, err: err, no: no}
		wrote = wrote || err == nil
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	for i, req := range batch {
		if r := replies[i]; r.err == nil && r.res.Written {
			w.heads.wrote(req.stream, r.no, r.res.Revision, req.events)
			w.numbers.Add(req.stream, r.no)
		}
	}
	if wrote {
		w.onCommit(btx.written)
	}
	return replies, nil
}

func isRefusal(err error) bool {
	return errors.Is(err, eventstore.ErrConflict) || errors.Is(err, eventstore.ErrInvalidAppend)
}
