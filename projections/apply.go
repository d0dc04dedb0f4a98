package projections

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// folder folds batches of events into one read models' database: the
// projector's, or a rebuild's. It keeps the statements prepared and the
// orders it wrote last in memory, so that an order's next event (paid,
// refunded) folds without reading its row back.
type folder struct {
	st     *sqlitex.Stmts
	recent *lru.Cache[string, Order] // rows as committed, by id
	pages  *firstPages               // told of the users whose orders a commit changed; nil for none
}

// recentOrders bounds folder.recent: the orders in flight under load, a
// few MB.
const recentOrders = 16384

func newFolder(db *sql.DB) *folder {
	recent, err := lru.New[string, Order](recentOrders)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &folder{st: sqlitex.NewStmts(db), recent: recent}
}

func (f *folder) Close() error { return f.st.Close() }

// applyBatch folds events, in log order, into the read models and moves
// the checkpoint to the last of them, in one transaction: either the whole
// batch and its checkpoint are committed, or nothing is. Events at or below
// the stored checkpoint are skipped, so a batch delivered twice is applied
// once. The as-of reads fold through here; the projector (across batches,
// see Projector.run) and a long fold (Rebuild, Verify, see foldLogAsOf)
// fold through the same writeTx.fold, committing less often.
func (f *folder) applyBatch(ctx context.Context, events []event) error {
	if len(events) == 0 {
		return nil
	}
	w, err := f.begin(ctx)
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	defer w.rollback()
	folded, err := w.fold(ctx, events)
	if err != nil || !folded {
		return err
	}
	if err := w.commit(ctx); err != nil {
		return fmt.Errorf("apply batch up to position %d: %w", events[len(events)-1].rec.Position, err)
	}
	w.settle(nil)
	return nil
}

// begin starts a transaction of f's database.
func (f *folder) begin(ctx context.Context) (*writeTx, error) {
	tx, err := f.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin a transaction: %w", err)
	}
	// The statements run without ctx's cancellation: the driver watches a
	// cancellable context with a goroutine per statement, a fifth of a
	// small insert's cost. The transaction still ends with ctx: once it
	// is canceled, the next statement and the commit fail.
	w := &writeTx{ctx: context.WithoutCancel(ctx), tx: f.st.Wrap(tx), f: f}
	if w.checkpoint, err = readCheckpoint(ctx, w.tx); err != nil {
		w.rollback()
		return nil, fmt.Errorf("begin a transaction: %w", err)
	}
	return w, nil
}

// fold folds events, in log order, and moves the checkpoint to the last of
// them. Events at or below the checkpoint are skipped; folded is false when
// all of them were.
func (w *writeTx) fold(ctx context.Context, events []event) (folded bool, err error) {
	done := w.checkpoint
	for _, ev := range events {
		if ev.rec.Position <= done {
			continue
		}
		if err := applyEvent(w, ev); err != nil {
			return false, fmt.Errorf("apply %s event %s at position %d: %w", ev.rec.Type, ev.rec.ID, ev.rec.Position, err)
		}
	}
	last := events[len(events)-1].rec.Position
	if last <= done {
		return false, nil
	}
	if err := w.flushOrders(); err != nil {
		return false, err
	}
	if err := writeCheckpoint(w, last); err != nil {
		return false, err
	}
	w.checkpoint = last
	return true, nil
}

// commit writes the orders the transaction holds and commits it.
func (w *writeTx) commit(ctx context.Context) error {
	if err := w.writeHeld(); err != nil {
		return err
	}
	if err := w.tx.Commit(); err != nil {
		return err
	}
	w.tx.Done(ctx)
	for _, o := range w.wroteHeld {
		w.f.recent.Add(o.ID, o)
	}
	w.wroteHeld = nil
	if w.f.pages != nil && len(w.users) > 0 {
		w.f.pages.changed(w.users)
		clear(w.users)
	}
	return nil
}

// rollback ends the transaction unless it was committed.
func (w *writeTx) rollback() {
	w.tx.Rollback() //nolint:errcheck // no-op after Commit
}

// event is an event of the log with its body decoded, when its type is
// one the read models fold.
type event struct {
	rec eventstore.RecordedEvent
	e   domain.Event // nil for a type no read model shows
	err error        // why the body does not decode
}

// folders are the read models' folds, by event type: the only list of the
// types they show. Types not here (the catalog, the wallet's customers and
// setup sessions, types newer than this binary) are skipped: the
// checkpoint still moves past them.
var folders = map[string]func(*writeTx, domain.Event) error{
	domain.EventCardAttached:                as((*writeTx).attachCard),
	domain.EventCardDetached:                as((*writeTx).detachCard),
	domain.EventOrderPlaced:                 (*writeTx).foldOrder,
	domain.EventOrderPaid:                   (*writeTx).foldOrder,
	domain.EventOrderPaymentFailed:          (*writeTx).foldOrder,
	domain.EventRefundRequested:             (*writeTx).foldOrder,
	domain.EventOrderRefunded:               (*writeTx).foldOrder,
	domain.EventRefundFailed:                (*writeTx).foldOrder,
	domain.EventPaymentAttemptFailed:        (*writeTx).foldOrder,
	domain.EventSubscriptionCreated:         as((*writeTx).createSubscription),
	domain.EventSubscriptionStarted:         as((*writeTx).startSubscription),
	domain.EventSubscriptionRenewed:         as((*writeTx).renewSubscription),
	domain.EventSubscriptionPastDue:         as((*writeTx).markPastDue),
	domain.EventSubscriptionCancelRequested: as((*writeTx).requestCancel),
	domain.EventSubscriptionCardChanged:     as((*writeTx).changeCard),
	domain.EventCancelScheduled:             as((*writeTx).scheduleCancel),
	domain.EventCancelUnscheduled:           as((*writeTx).unscheduleCancel),
	domain.EventSubscriptionCanceled:        as((*writeTx).cancelSubscription),
}

// as adapts a fold of one event type to folders' signature.
func as[E domain.Event](fold func(*writeTx, E) error) func(*writeTx, domain.Event) error {
	return func(w *writeTx, e domain.Event) error {
		typed, ok := e.(E)
		if !ok {
			return fmt.Errorf("decoded as %T", e)
		}
		return fold(w, typed)
	}
}

// decode decodes the bodies of the events the read models fold. It is the
// part of folding that needs no database, so a long fold runs it ahead, on
// another core, while the previous batch is written.
func decode(recs []eventstore.RecordedEvent) []event {
	evs := make([]event, len(recs))
	for i, rec := range recs {
		evs[i].rec = rec
		if _, ok := folders[rec.Type]; ok {
			evs[i].e, evs[i].err = domain.Decode(rec.Type, rec.Data)
		}
	}
	return evs
}

// applyEvent folds one event. An event of a folded type that does not
// decode is an error, never skipped: a silently missing payment would be a
// wrong ledger view.
func applyEvent(w *writeTx, ev event) error {
	fold, ok := folders[ev.rec.Type]
	if !ok {
		return nil
	}
	if ev.err != nil {
		return ev.err
	}
	w.at, w.stream, w.revision = nanos(ev.rec.RecordedAt), ev.rec.Stream, ev.rec.Revision
	return fold(w, ev.e)
}

// writeTx is a transaction of the read models, with its statements prepared
// once for the database (see sqlitex.Tx): one batch's (the projector's), or
// a long fold's.
type writeTx struct {
	ctx context.Context
	tx  *sqlitex.Tx
	f   *folder

	orders  map[string]*orderChange // the orders the batch folded, by id
	touched []string                // their ids, in the order first folded
	users   map[string]struct{}     // whose orders the transaction wrote, when f.pages is kept

	// hold: the transaction spans batches (the projector's, up to
	// commitEvery), and a new order a batch leaves pending is held in
	// memory instead of written: most are paid a few milliseconds later,
	// in a later batch of the same transaction, which then writes them
	// once, paid, instead of an insert and an update. The commit writes
	// those still held. The watches hear of every batch's changes all the
	// same, held or not.
	hold      bool
	held      map[string]*orderChange // by id
	heldIDs   []string                // in the order held, for writeHeld
	wroteHeld []Order                 // written by writeHeld, cached once committed

	// fresh: a long fold into a new database (Rebuild's, Verify's), which
	// holds no row but those the fold wrote. A new order there is queued
	// (inserts) and written with others in one INSERT (insertNew).
	// Orders placed by an event that did not start their stream
	// (placedElsewhere; none in a log this service wrote) may have a row
	// before their own stream's placement, which is then written alone.
	fresh           bool
	inserts         []*orderChange
	bodies          []byte // the queued orders' bodies, rendered
	placedElsewhere map[string]struct{}
	// lookups: the unique indexes a fresh fold's database is without
	// (dropIndexes), until its first statement that looks a row up by
	// them creates them again (indexLookups).
	lookups []index
	log     eventstore.Store // a long fold's log (findOrder), read until logCtx ends
	logCtx  context.Context
	logTime time.Duration // spent reading it

	// The checkpoint as the transaction read it when it began or last
	// wrote it: no one else writes while it is open, so a batch need not
	// read it again.
	checkpoint eventstore.Position

	// The event being folded: when it was recorded (unix nanoseconds),
	// its stream and its revision there.
	at       int64
	stream   string
	revision uint64
}

func (w *writeTx) exec(query string, args ...any) (sql.Result, error) {
	return w.tx.ExecContext(w.ctx, query, args...)
}

// foldFresh makes w a long fold of log, until ctx ends, into a new
// database (fresh), from which dropIndexes dropped the indexes dropped, if
// any.
func (w *writeTx) foldFresh(ctx context.Context, log eventstore.Store, dropped []index) {
	w.fresh, w.log, w.logCtx = true, log, ctx
	for _, ix := range dropped {
		if ix.unique {
			w.lookups = append(w.lookups, ix)
		}
	}
}

// indexLookups creates the indexes of w.lookups, if any are still to be:
// call it before a statement that looks a row up by anything but its
// table's key.
func (w *writeTx) indexLookups() error {
	for len(w.lookups) > 0 {
		ix := w.lookups[0]
		if _, err := w.tx.Tx.ExecContext(w.ctx, ix.def); err != nil { // once: not kept prepared
			return fmt.Errorf("create index %s: %w", ix.name, err)
		}
		w.lookups = w.lookups[1:]
	}
	return nil
}
