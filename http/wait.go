package http

import (
	"context"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// Progress tells how far the read models have folded the log.
type Progress interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
	Watch(stream string) *projections.Watch
}

// readYourWrites bounds how long an answer waits for the read models to
// show the request's own write; past it, something is broken.
const readYourWrites = 30 * time.Second

// caughtUp waits until the read models include position pos, so that what
// the answer shows, and what the client lists next, includes the write.
func (s *Server) caughtUp(ctx context.Context, pos eventstore.Position) error {
	ctx, cancel := context.WithTimeout(ctx, readYourWrites)
	defer cancel()
	return s.cfg.Progress.WaitFor(ctx, pos)
}

// settle reads with get until done says the outcome is there or the
// bounded wait (Config.OutcomeWait) is over, and returns the last read
// either way. It reads again only after the read models applied another
// event of the watched stream. When pending is true, the request's own
// write at pos left the state pending, so nothing is read before an event
// after pos is applied: an order just placed costs one read.
func settle[T any](ctx context.Context, s *Server, watch *projections.Watch, pos eventstore.Position, pending bool,
	get func() (T, error), done func(T) bool) (T, error) {
	wait, cancel := context.WithTimeout(ctx, s.cfg.OutcomeWait)
	defer cancel()
	if pending && watch.Wait(wait, pos) != nil {
		return get()
	}
	for {
		seen := watch.Last()
		v, err := get()
		if err != nil || done(v) {
			return v, err
		}
		if watch.Wait(wait, seen) != nil {
			return get()
		}
	}
}
