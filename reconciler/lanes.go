package reconciler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// lanes is how many events are handled at once. Handling is mostly
// waiting for the provider's and the store's group commits, which grow
// with the calls waiting: 16 lanes held a burst of 64 clients to 1,250
// orders/s on the development machine, 128 reached 1,630.
const lanes = 128

// unsaved bounds the batches read from the log and in hand before the
// checkpoint is saved past them: the saver holds at most this many, as
// many more wait for it, and one is being dispatched. Under load a few
// are in hand (each is what one commit of the log added); the bound
// matters when one event's outcome stays unknown (a provider that hangs,
// until the event is parked): what was handled behind it is handled again
// should the service stop before the checkpoint passes it, at most about
// twice this many batches of up to 512 events.
const unsaved = 32

// saveEvery spaces the checkpoint's commits: under load a run is handled
// every few milliseconds, and a commit for each was 1.7% of serve's CPU
// under the orders load. The runs handled meanwhile are saved together,
// or sooner once unsaved of them are in hand (the dispatcher must not
// stall).
// What a crash leaves unsaved is handled again after a restart (at most
// this long of the log more than before), and every reaction is
// idempotent; a stop saves at once.
const saveEvery = 50 * time.Millisecond

// batchRun is one batch read from the log, while its events are handled.
type batchRun struct {
	last    eventstore.Position // the batch's last event
	handled sync.WaitGroup      // its events' handlers
	done    chan struct{}       // closed once every handler has returned
	// abandoned: an event was neither handled nor parked (the service is
	// stopping); the checkpoint must not pass it.
	abandoned atomic.Bool

	mu   sync.Mutex
	park []eventstore.Position
}

// settled records what handleQuickly reported for rec: handled, parked,
// or (false while stopping) abandoned.
func (b *batchRun) settled(ctx context.Context, rec eventstore.RecordedEvent, handled bool) {
	switch {
	case handled:
	case ctx.Err() != nil:
		b.abandoned.Store(true)
	default:
		b.mu.Lock()
		b.park = append(b.park, rec.Position)
		b.mu.Unlock()
	}
}

// pipeline hands the log's events to handlers as they are read: a batch's
// events need not wait for the batch before it to be handled, except as
// the log's order requires. Events that cannot affect each other are
// handled side by side: a plain order's placement and its refunds, keyed
// by the order's stream (one stream's events in log order, each after the
// one before it). Everything else (subscription orders and their
// cancellations, the provider's news, which may concern any order) is a
// barrier: handled alone, after every event before it and before any
// after it, exactly as in log order.
//
// Before, a batch was handled whole before the next was read: an order
// placed while the batch before it was being charged waited for all of it,
// its charge and the group commits of its outcome, before its own charge
// began.
type pipeline struct {
	r    *Reconciler
	sem  chan struct{}  // a slot per event in hand
	all  sync.WaitGroup // every handler in flight
	mu   sync.Mutex
	busy map[string]chan struct{} // a stream's last handler in flight, closed when it is done
}

func newPipeline(r *Reconciler) *pipeline {
	return &pipeline{r: r, sem: make(chan struct{}, lanes), busy: map[string]chan struct{}{}}
}

// dispatch starts handling batch, and returns its run once every event is
// in hand. It waits at a barrier for every event before it, and for a free
// lane.
func (p *pipeline) dispatch(ctx context.Context, batch []eventstore.RecordedEvent) *batchRun {
	b := &batchRun{last: batch[len(batch)-1].Position, done: make(chan struct{})}
	for _, rec := range batch {
		if ctx.Err() != nil {
			b.abandoned.Store(true) // stopping: the batch is handled again after a restart
			break
		}
		if !independent(rec) {
			p.all.Wait()
			b.settled(ctx, rec, p.r.handleQuickly(ctx, rec))
			continue
		}
		if acts(rec.Type) {
			p.start(ctx, b, rec)
		}
	}
	go func() {
		b.handled.Wait()
		close(b.done)
	}()
	return b
}

// start handles rec in a lane of its own, after the events before it of
// every stream its handler writes.
func (p *pipeline) start(ctx context.Context, b *batchRun, rec eventstore.RecordedEvent) {
	p.sem <- struct{}{} // freed by a handler, which ends even when stopping
	streams := writes(rec)
	done := make(chan struct{})
	var before []chan struct{}
	p.mu.Lock()
	for _, s := range streams {
		if prev := p.busy[s]; prev != nil {
			before = append(before, prev)
		}
		p.busy[s] = done
	}
	p.mu.Unlock()
	b.handled.Add(1)
	p.all.Add(1)
	go func() {
		defer func() {
			p.mu.Lock()
			for _, s := range streams {
				if p.busy[s] == done {
					delete(p.busy, s)
				}
			}
			p.mu.Unlock()
			close(done)
			<-p.sem
			b.handled.Done()
			p.all.Done()
		}()
		for _, prev := range before { // each was started earlier: no cycle
			<-prev
		}
		if ctx.Err() != nil {
			b.abandoned.Store(true)
			return
		}
		b.settled(ctx, rec, p.r.handleQuickly(ctx, rec))
	}()
}

// writes is the streams rec's handler writes: its own, and a renewal's
// order.
func writes(rec eventstore.RecordedEvent) []string {
	if rec.Type == domain.EventSubscriptionRenewalDue {
		if e, err := domain.Decode(rec.Type, rec.Data); err == nil {
			if due, ok := e.(domain.SubscriptionRenewalDue); ok {
				return []string{rec.Stream, due.RenewalOrderID.Stream()}
			}
		}
	}
	return []string{rec.Stream}
}

// saveInOrder moves the checkpoint past each run once it and every run
// before it are handled, with their parked events: the checkpoint never
// passes an event neither handled nor parked. Runs handled by then are
// saved together, in one commit. It returns when runs is closed and every
// run handled is saved, or at the first run abandoned (stopping): what is
// not saved is handled again after a restart, and every reaction is
// idempotent.
func (r *Reconciler) saveInOrder(ctx context.Context, runs <-chan *batchRun) error {
	ctx = context.WithoutCancel(ctx) // a stop saves what was handled
	var queue []*batchRun
	var next time.Time // no save before then, but on a stop
	for {
		if len(queue) == 0 {
			b, ok := <-runs
			if !ok {
				return nil
			}
			queue = append(queue, b)
		}
		<-queue[0].done
		queue = gather(queue, runs, time.Until(next))
		n := 0
		for n < len(queue) && closed(queue[n].done) && !queue[n].abandoned.Load() {
			n++
		}
		if n == 0 {
			return nil // abandoned: nothing after it may be saved
		}
		var park []eventstore.Position
		for _, b := range queue[:n] {
			park = append(park, b.park...)
		}
		last := queue[n-1].last
		if err := r.cp.save(ctx, last, park, time.Now().Add(r.cfg.RetryMin)); err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		r.pos.Store(uint64(last))
		queue = queue[n:]
		next = time.Now().Add(saveEvery)
	}
}

// gather adds to queue the runs sent within wait (none: those sent
// already), up to unsaved of them; it returns early when runs is closed.
func gather(queue []*batchRun, runs <-chan *batchRun, wait time.Duration) []*batchRun {
	var expired <-chan time.Time // nil once there is no more waiting
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		expired = timer.C
	}
	for len(queue) < unsaved {
		select {
		case b, ok := <-runs:
			if !ok {
				return queue
			}
			queue = append(queue, b)
			continue
		default:
		}
		if expired == nil {
			return queue
		}
		select {
		case b, ok := <-runs:
			if !ok {
				return queue
			}
			queue = append(queue, b)
		case <-expired:
			expired = nil // take what was sent meanwhile, then save
		}
	}
	return queue
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// independent reports an event whose handling no other independent event's
// handling can affect, but for those of the streams it writes (writes),
// which are handled one after another in log order: a plain order's
// placement (no subscription), a refund request, a charge of a renewal the
// ledger bills; and events the reconciler ignores. They read and write
// their own order stream, and a renewal its subscription's and its renewal
// order's streams (order.refunded, whose handler may cancel a
// subscription, is a barrier for that reason). Keep it so: a handler here
// that comes to write anything another one reads, beyond what writes
// names, must move to the barriers.
func independent(rec eventstore.RecordedEvent) bool {
	switch rec.Type {
	case domain.EventRefundRequested, domain.EventSubscriptionRenewalDue:
		return true
	case domain.EventOrderPlaced:
		e, err := domain.Decode(rec.Type, rec.Data)
		placed, ok := e.(domain.OrderPlaced)
		return err == nil && ok && placed.SubscriptionID == ""
	case domain.EventSubscriptionCancelRequested, domain.EventProviderEventReceived, domain.EventOrderRefunded,
		domain.EventSubscriptionCardChanged, domain.EventCancelScheduled, domain.EventCancelUnscheduled:
		return false
	default:
		return true // not handled: nothing to order
	}
}
