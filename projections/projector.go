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
// from their checkpoint and folds each batch of events in one transaction
// with the new checkpoint. Readers wait on it for read-your-writes.
type Projector struct {
	rm    *ReadModels
	store eventstore.Store
	log   *slog.Logger

	position  atomic.Uint64 // last applied position
	lastEvent atomic.Int64  // RecordedAt of the last applied event, unix nanos; 0 before any

	mu      sync.Mutex
	changed chan struct{}       // closed and replaced after every applied batch
	watches map[string][]*Watch // by stream
}

// NewProjector returns a projector that folds store's log into rm, which
// must have been opened with Open. A nil log discards its messages.
func NewProjector(rm *ReadModels, store eventstore.Store, log *slog.Logger) *Projector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Projector{rm: rm, store: store, log: log, changed: make(chan struct{}), watches: make(map[string][]*Watch)}
}

// Run folds the log into the read models from their checkpoint, batch by
// batch, until ctx ends (then it returns nil). Any other failure, such as an
// event it cannot decode, stops it with an error: the read models then stay
// at the last batch that committed whole, and the caller reports the error.
func (p *Projector) Run(ctx context.Context) error {
	err := p.run(ctx)
	if ctx.Err() != nil {
		return nil // a clean stop, whatever it interrupted
	}
	return err
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
	p.publish(from, time.Time{})
	p.log.Info("projector started", "checkpoint", uint64(from))
	sub, err := p.store.SubscribeAll(ctx, from)
	if err != nil {
		return fmt.Errorf("projector: subscribe after %d: %w", from, err)
	}
	defer sub.Close()
	for {
		events, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("projector: read after %d: %w", p.Position(), err)
		}
		orders, err := p.rm.folds.applyBatch(ctx, decode(events))
		if err != nil {
			return fmt.Errorf("projector: %w", err)
		}
		last := events[len(events)-1]
		p.wakeStreams(events, orders)
		p.publish(last.Position, last.RecordedAt)
	}
}

// wakeStreams tells the watches of the streams events touched, and hands
// the watches of orders their rows as committed. It runs after the batch
// committed and before Position moves past it.
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
	order   *Order              // an order stream's row as last committed since Watch; nil before
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
// committed it with the stream's last event applied since the watch began
// (what reading it from them would give), and false before any: a waiting
// request answers from it without reading the row back.
func (w *Watch) Order() (Order, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.order == nil {
		return Order{}, false
	}
	return *w.order, true
}

// Last is the position of the stream's last event the read models applied
// since the watch began, or eventstore.Start if none.
func (w *Watch) Last() eventstore.Position {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Wait blocks until the read models have applied an event of the stream at
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

// publish records that the read models reached pos and wakes every waiter.
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

// Position is the position of the last event applied to the read models.
func (p *Projector) Position() eventstore.Position {
	return eventstore.Position(p.position.Load())
}

// LastEventTime is when the last applied event was recorded in the log (the
// zero time until this projector applies its first batch): with the log's
// head it measures the read models' lag.
func (p *Projector) LastEventTime() time.Time {
	n := p.lastEvent.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Changed returns a channel closed after the next applied batch. Take it,
// check the state, then wait on it: a batch applied in between closes it,
// so no change is slept through.
func (p *Projector) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// WaitFor blocks until the read models include the event at pos (Position
// >= pos), or ctx ends (then it returns ctx.Err()). A handler that appended
// at pos waits for it before answering, so its client reads its own write.
func (p *Projector) WaitFor(ctx context.Context, pos eventstore.Position) error {
	for {
		changed := p.Changed()
		if p.Position() >= pos {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
