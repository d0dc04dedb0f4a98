package http

import (
	"context"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// Progress tells how far the read models have folded the log.
type Progress interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
	StreamChanged(stream string) (<-chan struct{}, func())
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

// settle re-reads with get each time the read models apply an event of
// stream, until done says the outcome is there or the bounded wait
// (Config.OutcomeWait) is over, and returns the last read either way.
func settle[T any](ctx context.Context, s *Server, stream string, get func() (T, error), done func(T) bool) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OutcomeWait)
	defer cancel()
	for {
		changed, release := s.cfg.Progress.StreamChanged(stream)
		v, err := get()
		if err != nil || done(v) {
			release()
			return v, err
		}
		select {
		case <-changed:
			release()
		case <-ctx.Done():
			release()
			return get()
		}
	}
}
