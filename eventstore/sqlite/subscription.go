package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// subscriptionBatch bounds one Next: large enough to amortise a query,
// small enough to keep a consumer's transaction short.
const subscriptionBatch = 512

// SubscribeAll implements eventstore.Store. A subscription is a cursor over
// ReadAll: it reads what is committed after its position (from the tail of
// this process's commits when it holds them) and, when there is nothing,
// waits for this process's next commit or the poll interval (for appends
// by other processes).
func (s *Store) SubscribeAll(ctx context.Context, from eventstore.Position) (eventstore.Subscription, error) {
	select {
	case <-s.closed:
		return nil, eventstore.ErrClosed
	default:
	}
	return &subscription{store: s, pos: from, closed: make(chan struct{})}, nil
}

type subscription struct {
	store  *Store
	pos    eventstore.Position
	closed chan struct{}
	once   sync.Once
}

func (sub *subscription) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	polled := false // the poll interval passed: look in the file
	for {
		// Take the wake-up channel before reading: a commit that lands
		// after the read closes it, so no append is slept through.
		changed := sub.store.changes()
		select {
		case <-sub.closed:
			return nil, eventstore.ErrClosed
		case <-sub.store.closed:
			return nil, eventstore.ErrClosed
		default:
		}
		evs, err := sub.store.readAfter(ctx, sub.pos, subscriptionBatch, polled)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			sub.pos = evs[len(evs)-1].Position
			return evs, nil
		}
		if timer == nil {
			timer = time.NewTimer(sub.store.cfg.PollInterval)
		} else {
			timer.Reset(sub.store.cfg.PollInterval)
		}
		select {
		case <-changed:
			polled = false
		case <-timer.C:
			polled = true
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-sub.closed:
			return nil, eventstore.ErrClosed
		case <-sub.store.closed:
			return nil, eventstore.ErrClosed
		}
	}
}

// readAfter is ReadAll served, when it can be, from the tail of this
// process's commits. A subscriber that has everything up to this process's
// last commit finds nothing, without a read, unless polled: another
// process's commits after it are looked for in the file at the poll
// interval, as an idle subscription's are, or with this process's next
// commit, whose position then does not follow from (tail.after). Under
// load every subscriber catches up between two commits, and the empty read
// it made each time was 2% of the service's CPU.
func (s *Store) readAfter(ctx context.Context, from eventstore.Position, max int, polled bool) ([]eventstore.RecordedEvent, error) {
	if s.tail != nil {
		if evs := s.tail.after(from, max); evs != nil {
			return evs, nil
		}
		if !polled && s.tail.endsAt(from) {
			return nil, nil
		}
	}
	return s.ReadAll(ctx, from, max)
}

func (sub *subscription) Close() error {
	sub.once.Do(func() { close(sub.closed) })
	return nil
}
