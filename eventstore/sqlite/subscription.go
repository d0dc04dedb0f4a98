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
		evs, err := sub.store.readAfter(ctx, sub.pos, subscriptionBatch)
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
		case <-timer.C:
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
// process's commits.
func (s *Store) readAfter(ctx context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	if s.tail != nil {
		if evs := s.tail.after(from, max); evs != nil {
			return evs, nil
		}
	}
	return s.ReadAll(ctx, from, max)
}

func (sub *subscription) Close() error {
	sub.once.Do(func() { close(sub.closed) })
	return nil
}
