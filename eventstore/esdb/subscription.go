package esdb

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/robotlabor/billing/eventstore"
)

// batch bounds the events one Next returns.
const batch = 512

// SubscribeAll implements eventstore.Store with a catch-up subscription to
// $all that the server filters of system events. A goroutine keeps it
// subscribed: when the subscription drops (a restart, a leader change, a
// network fault) it subscribes again after the last event it delivered,
// pausing between attempts, so Next never sees the fault. An error that
// retrying cannot fix (access denied, a server without positions, a start
// position of another log) ends the subscription, and Next returns it.
func (s *Store) SubscribeAll(ctx context.Context, from eventstore.Position) (eventstore.Subscription, error) {
	if s.isClosed() {
		return nil, eventstore.ErrClosed
	}
	runCtx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(s.closing, cancel)
	sub := &subscription{
		store:  s,
		events: make(chan eventstore.RecordedEvent, batch),
		cancel: func() { stop(); cancel() },
		done:   make(chan struct{}),
	}
	go sub.run(runCtx, from)
	return sub, nil
}

type subscription struct {
	store  *Store
	events chan eventstore.RecordedEvent
	cancel func()
	done   chan struct{} // closed when run returns
	err    error         // why run returned, when not closed; set before done closes
	once   sync.Once
}

func (sub *subscription) Next(ctx context.Context) ([]eventstore.RecordedEvent, error) {
	// An ended subscription says so, even with events still buffered.
	select {
	case <-sub.done:
		return nil, sub.ended()
	default:
	}
	var out []eventstore.RecordedEvent
	select {
	case ev := <-sub.events:
		out = append(out, ev)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-sub.done:
		return nil, sub.ended()
	}
	for len(out) < batch {
		select {
		case ev := <-sub.events:
			out = append(out, ev)
		default:
			return out, nil
		}
	}
	return out, nil
}

func (sub *subscription) ended() error {
	if sub.err != nil {
		return sub.err
	}
	return eventstore.ErrClosed
}

func (sub *subscription) Close() error {
	sub.once.Do(func() {
		sub.cancel()
		<-sub.done
	})
	return nil
}

// run subscribes, and subscribes again after every drop, until the
// subscription or the store is closed or an error retrying cannot fix.
func (sub *subscription) run(ctx context.Context, pos eventstore.Position) {
	defer close(sub.done)
	s := sub.store
	pause := s.cfg.RetryMin
	for ctx.Err() == nil {
		delivered, err := sub.follow(ctx, pos)
		if delivered > pos {
			pos, pause = delivered, s.cfg.RetryMin
		}
		if ctx.Err() != nil || s.isClosed() {
			return
		}
		if permanent(err) {
			s.log.Error("EventStoreDB subscription ended", "after_position", pos, "err", err)
			sub.err = err
			sub.cancel()
			return
		}
		s.log.Warn("EventStoreDB subscription dropped; resubscribing", "after_position", pos, "retry_in", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		pause = min(2*pause, s.cfg.RetryMax)
	}
}

// permanent reports an error that resubscribing cannot fix: no access, a
// server without positions, or a start position where no event starts.
func permanent(err error) bool {
	switch code(err) {
	case esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated:
		return true
	}
	return errors.Is(err, errNoPosition) || invalidPosition(err)
}

// follow runs one subscription from pos until it drops, and returns the
// position of the last event it delivered (pos if none) and why it ended.
func (sub *subscription) follow(ctx context.Context, pos eventstore.Position) (eventstore.Position, error) {
	s := sub.store
	// Everything of this try, the subscription's context included, ends
	// with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()}
	if pos != eventstore.Start {
		opts.From = esdb.Position{Commit: uint64(pos), Prepare: uint64(pos)}
	}
	es, err := call(ctx, s, true, func(ctx context.Context, c *esdb.Client) (*esdb.Subscription, error) {
		return c.SubscribeToAll(ctx, opts)
	})
	if err != nil {
		return pos, s.settle(ctx, "subscribe to $all", err)
	}
	defer es.Close()
	for {
		ev := es.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return pos, s.settle(ctx, "subscription to $all", ev.SubscriptionDropped.Error)
		case ev.EventAppeared != nil:
			rec, err := recorded(ev.EventAppeared)
			if err != nil {
				return pos, err
			}
			// The server filters system events; this guards against one
			// that does not, and against a repeat at a resubscription.
			if rec.Position <= pos || isSystem(rec.Type) {
				continue
			}
			select {
			case sub.events <- rec:
				pos = rec.Position
			case <-ctx.Done():
				return pos, ctx.Err()
			}
		}
	}
}
