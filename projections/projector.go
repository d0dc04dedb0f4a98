package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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
	changed chan struct{}            // closed and replaced after every applied batch
	streams map[string]*streamWaiter // streams someone waits on (StreamChanged)
}

// streamWaiter is the wake-up of everyone waiting on one stream.
type streamWaiter struct {
	ch chan struct{} // closed when an event of the stream is applied
	n  int           // waiters holding ch
}

// NewProjector returns a projector that folds store's log into rm, which
// must have been opened with Open. A nil log discards its messages.
func NewProjector(rm *ReadModels, store eventstore.Store, log *slog.Logger) *Projector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Projector{rm: rm, store: store, log: log, changed: make(chan struct{}), streams: make(map[string]*streamWaiter)}
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
		if err := applyBatch(ctx, p.rm.folds, events); err != nil {
			return fmt.Errorf("projector: %w", err)
		}
		last := events[len(events)-1]
		p.wakeStreams(events)
		p.publish(last.Position, last.RecordedAt)
	}
}

// wakeStreams wakes the waiters of the streams events touched. Waiters are
// woken before Position moves on, so one woken here that also waits for a
// position waits on until publish: both orders of wake-ups are safe.
func (p *Projector) wakeStreams(events []eventstore.RecordedEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.streams) == 0 {
		return
	}
	for _, e := range events {
		if w, ok := p.streams[e.Stream]; ok {
			close(w.ch)
			delete(p.streams, e.Stream)
		}
	}
}

// StreamChanged returns a channel closed once the read models have applied
// an event of stream after this call, and a release to call when done
// waiting. Take it, read the state, then wait on it: an event applied in
// between closes it, so none is slept through. Unlike Changed, a waiter
// wakes only for its own stream, so many waiters cost nothing per batch.
func (p *Projector) StreamChanged(stream string) (<-chan struct{}, func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.streams[stream]
	if !ok {
		w = &streamWaiter{ch: make(chan struct{})}
		p.streams[stream] = w
	}
	w.n++
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if w.n--; w.n == 0 && p.streams[stream] == w {
				delete(p.streams, stream)
			}
		})
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
