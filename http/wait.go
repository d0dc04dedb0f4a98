package http

import (
	"context"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// Progress tells how far the read models have folded the log
// (projections.Projector): WaitFor and Sync wait for their queries,
// WaitFolded and watches for the fold, which comes first.
type Progress interface {
	WaitFor(ctx context.Context, pos eventstore.Position) error
	WaitFolded(ctx context.Context, pos eventstore.Position) error
	Sync(ctx context.Context) error
	Synced() bool
	Watch(stream string) *projections.Watch
}

// readYourWrites bounds how long an answer waits for the read models to
// show the request's own write; past it, something is broken.
const readYourWrites = 30 * time.Second

// bounded runs wait with readYourWrites as its deadline.
func bounded(ctx context.Context, wait func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readYourWrites)
	defer cancel()
	return wait(ctx)
}

// caughtUp waits until the read models include position pos, so that what
// the answer shows, and what the client lists next, includes the write.
func (s *Server) caughtUp(ctx context.Context, pos eventstore.Position) error {
	return bounded(ctx, func(ctx context.Context) error { return s.cfg.Progress.WaitFor(ctx, pos) })
}

// folded waits until the read models have folded position pos, so that
// a watch taken before it shows the write.
func (s *Server) folded(ctx context.Context, pos eventstore.Position) error {
	return bounded(ctx, func(ctx context.Context) error { return s.cfg.Progress.WaitFolded(ctx, pos) })
}

// synced is Queries after Progress.Sync: a POST answers with its order as
// the projector folded it, perhaps before the read models committed it,
// so every read first waits for what was folded when it began. When the
// projector is not behind its fold (no write since its last commit), that
// costs nothing.
type synced struct {
	q Queries
	p Progress
}

// sync waits for the read models to include all that was folded; most
// reads find them there and skip the bounded wait's timer, 5% of a page's
// CPU (docs/performance-log.md, eighth session).
func (s synced) sync(ctx context.Context) error {
	if s.p.Synced() {
		return nil
	}
	return bounded(ctx, s.p.Sync)
}

func (s synced) PaymentMethods(ctx context.Context, userID string, p projections.Page) ([]projections.PaymentMethod, string, error) {
	if err := s.sync(ctx); err != nil {
		return nil, "", err
	}
	return s.q.PaymentMethods(ctx, userID, p)
}

func (s synced) Orders(ctx context.Context, userID string, q projections.OrderQuery) ([]projections.RawOrder, bool, error) {
	if err := s.sync(ctx); err != nil {
		return nil, false, err
	}
	return s.q.Orders(ctx, userID, q)
}

func (s synced) Order(ctx context.Context, userID, orderID string) (projections.Order, error) {
	if err := s.sync(ctx); err != nil {
		return projections.Order{}, err
	}
	return s.q.Order(ctx, userID, orderID)
}

func (s synced) Subscriptions(ctx context.Context, userID string, p projections.Page) ([]projections.Subscription, string, error) {
	if err := s.sync(ctx); err != nil {
		return nil, "", err
	}
	return s.q.Subscriptions(ctx, userID, p)
}

func (s synced) Subscription(ctx context.Context, userID, id string) (projections.Subscription, error) {
	if err := s.sync(ctx); err != nil {
		return projections.Subscription{}, err
	}
	return s.q.Subscription(ctx, userID, id)
}

// settle reads with get until done says the outcome is there or the
// bounded wait (Config.OutcomeWait) is over, and returns the last read
// either way. It reads again only after the read models folded another
// event of the watched stream. When pending is true, the request's own
// write at pos left the state pending, so nothing is read before an event
// after pos is folded: an order just placed costs one read.
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
