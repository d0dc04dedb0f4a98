package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Projector keeps the read models up to date with the log: it subscribes
// from their checkpoint and folds the log's batches of events into one
// transaction with the new checkpoint, which it commits once a reader
// waits for it, or commitEvery after the transaction began. Readers wait on
// it for read-your-writes.
//
// A batch is folded before it is committed: watches see it then (a POST
// answers with its order as folded, its events being durable in the log
// already), and Sync makes a reader wait for the commit of every batch
// folded so far, so that a client lists what it was answered. Should the
// process stop first, the uncommitted batches are folded again from the
// checkpoint.
type Projector struct {
	rm    *ReadModels
	store eventstore.Store
	log   *slog.Logger

	position  atomic.Uint64 // last committed position
	folded    atomic.Uint64 // last folded position, committed or not
	announced atomic.Uint64 // last folded position the watches have heard of
	lastEvent atomic.Int64  // RecordedAt of the last committed event, unix nanos; 0 before any
	readFloor atomic.Uint64 // Sync waits for at least this position (HoldReadsUntil)
	waiters   atomic.Int32  // readers waiting for a commit
	poke      chan struct{} // a reader waits: commit what is folded
	stopped   chan struct{} // closed when Run returns
	stopOnce  sync.Once

	mu       sync.Mutex
	changed  chan struct{}       // closed and replaced after every commit
	fchanged chan struct{}       // closed and replaced after every folded batch
	watches  map[string][]*Watch // by stream
}

// commitEvery bounds how long folded batches stay uncommitted while no
// reader waits for them. Committing every batch of the log's group commits
// wrote the read models' shared pages (the user's last orders, the
// checkpoint) again for each; a reader that waits commits at once. At 10
// ms an order placed in one commit was often paid in the next, and the
// leaves of its id and amount indexes, random pages, were written twice:
// at 50 ms an order cost 5% less CPU under load (100 ms, no less again).
// Once the transaction held pending orders until they settle (writeTx.hold),
// a commit writes those still pending and the pages the orders it settled
// dirtied since the last: at 100 ms an order cost 3% less CPU again than
// at 50 (eight pairs), reads after writes as fast (they commit at once).
const commitEvery = 100 * time.Millisecond

// NewProjector returns a projector that folds store's log into rm, which
// must have been opened with Open. A nil log discards its messages.
func NewProjector(rm *ReadModels, store eventstore.Store, log *slog.Logger) *Projector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Projector{rm: rm, store: store, log: log, poke: make(chan struct{}, 1), stopped: make(chan struct{}),
		changed: make(chan struct{}), fchanged: make(chan struct{}), watches: make(map[string][]*Watch)}
}

// Run folds the log into the read models from their checkpoint until ctx
// ends (then it returns nil, leaving uncommitted batches to be folded
// again). Any other failure, such as an event it cannot decode, stops it
// with an error: the read models then stay at the last commit, and the
// caller reports the error. Once it returned, whoever waits for a
// position not committed gets ErrStopped. Run a Projector once.
func (p *Projector) Run(ctx context.Context) error {
	err := p.run(ctx)
	p.stopOnce.Do(func() { close(p.stopped) })
	if ctx.Err() != nil {
		return nil // a clean stop, whatever it interrupted
	}
	return err
}

// batch is what the projector's reader hands it: the log's next events.
type batch struct {
	events []eventstore.RecordedEvent
	err    error
}

func (p *Projector) run(ctx context.Context) error {
	if p.rm.writer == nil {
		return errors.New("projector: read models were opened read-only")
	}
	from, err := readCheckpoint(ctx, p.rm.writer)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	if err := eventstore.VerifyCheckpoint(ctx, p.store, from); err != nil {
		return fmt.Errorf("projector: %w: rebuild the read models (billing projections rebuild)", err)
	}
	p.folded.Store(uint64(from))
	p.announce(from)
	p.publish(from, time.Time{})
	p.log.Info("projector started", "checkpoint", uint64(from))
	sub, err := p.store.SubscribeAll(ctx, from)
	if err != nil {
		return fmt.Errorf("projector: subscribe after %d: %w", from, err)
	}
	// The log is read on a goroutine of its own, so that the loop below
	// can commit on time or on demand while no event comes.
	read, stop := context.WithCancel(ctx)
	batches, reading := make(chan batch), make(chan struct{})
	go func() {
		defer close(reading)
		for {
			events, err := sub.Next(read)
			select {
			case batches <- batch{events, err}:
			case <-read.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		stop()
		<-reading
		sub.Close()
	}()

	var (
		w     *writeTx                 // open while folded batches are not committed
		ahead bool                     // w folded a batch: its commit moves Position
		last  eventstore.RecordedEvent // the last event folded
		due   = time.NewTimer(commitEvery)
		// readersWaited: the last commit was made for readers (a waiter
		// or a poke), not by the timer.
		readersWaited bool
	)
	due.Stop()
	defer func() {
		if w != nil {
			w.rollback()
			// It holds rows of the batches lost: a Run again folds them
			// again, and would take them for stored.
			p.rm.folds.recent.Purge()
		}
	}()
	commit := func() error {
		due.Stop()
		if err := w.commit(ctx); err != nil {
			return fmt.Errorf("projector: commit up to position %d: %w", last.Position, err)
		}
		w = nil
		if ahead {
			p.publish(last.Position, last.RecordedAt)
		}
		ahead = false
		return nil
	}
	for {
		var timeout <-chan time.Time
		if w != nil {
			timeout = due.C
		}
		select {
		case b := <-batches:
			if b.err != nil {
				return fmt.Errorf("projector: read after %d: %w", p.Folded(), b.err)
			}
			if w == nil {
				if w, err = p.rm.folds.begin(ctx); err != nil {
					return fmt.Errorf("projector: %w", err)
				}
				// Holding pending orders (writeTx.hold) moves their writes
				// onto the commit, which readers wait for: only while none
				// made the last one.
				w.hold = !readersWaited
				due.Reset(commitEvery)
			}
			folded, err := w.fold(ctx, decode(b.events))
			if err != nil {
				return fmt.Errorf("projector: %w", err)
			}
			if !folded {
				continue
			}
			last, ahead = b.events[len(b.events)-1], true
			// Folded moves before any watch hears of the batch: a reader
			// that syncs after a watcher answered waits for the batch.
			p.folded.Store(uint64(last.Position))
			p.wakeStreams(b.events, w.written())
			p.announce(last.Position)
			if p.waiters.Load() > 0 {
				if err := commit(); err != nil {
					return err
				}
				readersWaited = true
			}
		case <-timeout:
			if err := commit(); err != nil {
				return err
			}
			readersWaited = false
		case <-p.poke:
			if w != nil {
				if err := commit(); err != nil {
					return err
				}
				readersWaited = true
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// wakeStreams tells the watches of the streams events touched, and hands
// the watches of orders their rows as folded. It runs once the batch is
// folded and Folded moved past it, before WaitFolded wakes.
func (p *Projector) wakeStreams(events []eventstore.RecordedEvent, orders []Order) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.watches) == 0 {
		return
	}
	for _, o := range orders {
		for _, w := range p.watches[domain.OrderID(o.ID).Stream()] {
			w.setOrder(o)
		}
	}
	for _, e := range events {
		for _, w := range p.watches[e.Stream] {
			w.applied(e.Position)
		}
	}
}

// Watch follows the events the read models apply to one stream, from the
// moment it is taken until Release. A handler takes it before its command
// appends, so no event of the stream applied after that can escape it;
// waiting on it wakes for that stream alone, so many waiting handlers cost
// nothing per batch.
type Watch struct {
	p      *Projector
	stream string

	mu      sync.Mutex
	last    eventstore.Position // of the stream's last event applied since Watch; Start before any
	changed chan struct{}       // closed and replaced when last moves
	order   *Order              // an order stream's row as last folded since Watch; nil before
}

// Watch starts watching stream; Release the watch when done.
func (p *Projector) Watch(stream string) *Watch {
	w := &Watch{p: p, stream: stream, changed: make(chan struct{})}
	p.mu.Lock()
	p.watches[stream] = append(p.watches[stream], w)
	p.mu.Unlock()
	return w
}

func (w *Watch) applied(pos eventstore.Position) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pos > w.last {
		w.last = pos
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

func (w *Watch) setOrder(o Order) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.order = &o
}

// Order returns the order of a watched order stream as the read models
// folded it with the stream's last event applied since the watch began
// (what reading it from them gives once it is committed), and false
// before any: a waiting request answers from it without reading the row
// back.
func (w *Watch) Order() (Order, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.order == nil {
		return Order{}, false
	}
	return *w.order, true
}

// Last is the position of the stream's last event the read models folded
// since the watch began, or eventstore.Start if none.
func (w *Watch) Last() eventstore.Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Wait blocks until the read models have folded an event of the stream at
// a position after after (Last() > after), or ctx ends (ctx.Err()).
func (w *Watch) Wait(ctx context.Context, after eventstore.Position) error {
	for {
		w.mu.Lock()
		last, changed := w.last, w.changed
		w.mu.Unlock()
		if last > after {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release ends the watch. It is safe to call more than once.
func (w *Watch) Release() {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	ws := w.p.watches[w.stream]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(w.p.watches, w.stream)
	} else {
		w.p.watches[w.stream] = ws
	}
}

// publish records that the read models committed up to pos and wakes
// every waiter.
func (p *Projector) publish(pos eventstore.Position, recordedAt time.Time) {
	p.position.Store(uint64(pos))
	if !recordedAt.IsZero() {
		p.lastEvent.Store(recordedAt.UnixNano())
	}
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// announce records that the watches heard of the batches folded up to pos,
// and wakes whoever waits for a fold (WaitFolded).
func (p *Projector) announce(pos eventstore.Position) {
	p.announced.Store(uint64(pos))
	p.mu.Lock()
	close(p.fchanged)
	p.fchanged = make(chan struct{})
	p.mu.Unlock()
}

// Position is the position of the last event committed to the read
// models: what their queries show.
func (p *Projector) Position() eventstore.Position {
	return eventstore.Position(p.position.Load())
}

// Folded is the position of the last event folded into the read models,
// committed or about to be (at least Position).
func (p *Projector) Folded() eventstore.Position {
	return eventstore.Position(p.folded.Load())
}

// LastEventTime is when the last committed event was recorded in the log
// (the zero time until this projector commits its first batch): with the
// log's head it measures the read models' lag.
func (p *Projector) LastEventTime() time.Time {
	n := p.lastEvent.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Changed returns a channel closed after the next commit. Take it, check
// the state, then wait on it: a commit in between closes it, so no change
// is slept through.
func (p *Projector) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *Projector) foldChanged() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fchanged
}

// WaitFor blocks until the read models' queries include the event at pos
// (Position >= pos), or ctx ends (then it returns ctx.Err()). A handler
// that appended at pos waits for it before reading its write back; the
// projector commits as soon as the event is folded.
func (p *Projector) WaitFor(ctx context.Context, pos eventstore.Position) error {
	if p.Position() >= pos {
		return nil
	}
	p.waiters.Add(1)
	defer p.waiters.Add(-1)
	// After the count: a batch folded before it was seen is committed on
	// the poke, one folded after it at once.
	select {
	case p.poke <- struct{}{}:
	default: // a poke is pending already
	}
	return p.waitUntil(ctx, p.Changed, func() bool { return p.Position() >= pos })
}

// WaitFolded blocks until the read models have folded the event at pos,
// committed or not, and the watches taken before it heard of it (Folded
// >= pos), or ctx ends (ctx.Err()).
func (p *Projector) WaitFolded(ctx context.Context, pos eventstore.Position) error {
	return p.waitUntil(ctx, p.foldChanged, func() bool { return eventstore.Position(p.announced.Load()) >= pos })
}

// ErrStopped: the projector stopped before the position waited for was
// committed (or folded); what was folded and not committed is lost until
// a projector folds it again.
var ErrStopped = errors.New("projector stopped")

// waitUntil blocks until reached is true, checking it again each time the
// channel changed gives (taken before the check, so that no change is
// slept through) is closed, until ctx ends (ctx.Err()) or Run returned
// (ErrStopped).
func (p *Projector) waitUntil(ctx context.Context, changed func() <-chan struct{}, reached func() bool) error {
	for {
		ch := changed()
		if reached() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stopped:
			if reached() {
				return nil
			}
			return ErrStopped
		}
	}
}

// Sync blocks until the read models' queries include every event folded
// when it was called, and the position given to HoldReadsUntil, or ctx
// ends (ctx.Err()): a read after a write that was answered from a watch
// sees that write.
func (p *Projector) Sync(ctx context.Context) error {
	return p.WaitFor(ctx, p.syncTarget())
}

// Synced reports whether Sync would return at once: the read models'
// queries include all that was folded (and what HoldReadsUntil holds them
// to). Under a read load it mostly is, and a caller spares itself setting
// up the wait.
func (p *Projector) Synced() bool { return p.Position() >= p.syncTarget() }

// syncTarget is the position Sync waits for.
func (p *Projector) syncTarget() eventstore.Position {
	return max(p.Folded(), eventstore.Position(p.readFloor.Load()))
}

// HoldReadsUntil makes Sync wait until the read models' queries include
// pos as well. A process passes the log's head when it starts: the one
// before may have answered writes it folded and never committed, and the
// reads wait until those are folded again.
func (p *Projector) HoldReadsUntil(pos eventstore.Position) {
	p.readFloor.Store(uint64(pos))
}
