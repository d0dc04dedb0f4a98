package app

import (
	"context"
	"errors"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Handle is the typed way to one kind of aggregate (Orders, Subscriptions):
// load one by id, or decide on it and append what was decided, in one
// call. The decisions are the domain's; a handle only loads, checks the
// owner and appends (retrying on a concurrent append, see Update).
type Handle[ID ~string, A Aggregate] struct {
	Log    *Log
	stream func(ID) string
	newAgg func() A
	owner  func(A) string // "" for an aggregate never created
}

// Orders is the handle on orders.
func Orders(l *Log) Handle[domain.OrderID, *domain.Order] {
	return Handle[domain.OrderID, *domain.Order]{Log: l, stream: domain.OrderID.Stream,
		newAgg: func() *domain.Order { return &domain.Order{} }, owner: func(o *domain.Order) string { return o.UserID }}
}

// Subscriptions is the handle on subscriptions.
func Subscriptions(l *Log) Handle[domain.SubscriptionID, *domain.Subscription] {
	return Handle[domain.SubscriptionID, *domain.Subscription]{Log: l, stream: domain.SubscriptionID.Stream,
		newAgg: func() *domain.Subscription { return &domain.Subscription{} }, owner: func(s *domain.Subscription) string { return s.UserID }}
}

// Load returns the aggregate as the ledger has it now (a zero one when it
// was never created).
func (h Handle[ID, A]) Load(ctx context.Context, id ID) (A, error) {
	loaded, err := LoadAggregate(ctx, h.Log, h.stream(id), h.newAgg)
	return loaded.Agg, err
}

// Loaded is Load with the version loaded, for DecideLoaded.
func (h Handle[ID, A]) Loaded(ctx context.Context, id ID) (Loaded[A], error) {
	return LoadAggregate(ctx, h.Log, h.stream(id), h.newAgg)
}

// Decide appends what decide decides on the aggregate's current state. An
// aggregate never created is not this ledger's (news of something else):
// nothing is decided or appended. The result says where the append landed,
// or where the stream stood when nothing was appended.
func (h Handle[ID, A]) Decide(ctx context.Context, id ID, meta Metadata, decide func(A) ([]domain.Event, error)) (eventstore.AppendResult, error) {
	_, res, err := Update(ctx, h.Log, h.stream(id), h.newAgg, func(a A) ([]domain.Event, error) {
		if h.owner(a) == "" {
			return nil, nil
		}
		return decide(a)
	}, meta)
	return res, err
}

// DecideLoaded is Decide whose first decision is made on loaded, as
// UpdateLoaded says.
func (h Handle[ID, A]) DecideLoaded(ctx context.Context, id ID, loaded Loaded[A], meta Metadata, decide func(A) ([]domain.Event, error)) (eventstore.AppendResult, error) {
	_, res, err := UpdateLoaded(ctx, h.Log, h.stream(id), loaded, h.newAgg, decide, meta)
	return res, err
}

// DecideOwned is Decide for a command of userID: an aggregate that is not
// the user's (another's, or none) is ErrNotFound, as the API answers it.
func (h Handle[ID, A]) DecideOwned(ctx context.Context, userID string, id ID, meta Metadata, decide func(A) ([]domain.Event, error)) (eventstore.AppendResult, error) {
	meta.UserID = userID
	_, res, err := Update(ctx, h.Log, h.stream(id), h.newAgg, func(a A) ([]domain.Event, error) {
		if h.owner(a) != userID {
			return nil, ErrNotFound
		}
		return decide(a)
	}, meta)
	return res, err
}

// LastEvent returns the most recent of a stream's last events that match,
// and whether one did; a stream that does not exist has none.
func (l *Log) LastEvent(ctx context.Context, stream string, match func(eventstore.RecordedEvent) bool) (eventstore.RecordedEvent, bool, error) {
	recs, err := l.Store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, recentEvents)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return eventstore.RecordedEvent{}, false, nil
	}
	if err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	for _, rec := range recs {
		if match(rec) {
			return rec, true, nil
		}
	}
	return eventstore.RecordedEvent{}, false, nil
}

// recentEvents bounds how far back LastEvent looks: the questions asked of
// a stream are about its latest events.
const recentEvents = 1000

// FirstEvent returns a stream's first event, and whether the stream exists.
func (l *Log) FirstEvent(ctx context.Context, stream string) (eventstore.RecordedEvent, bool, error) {
	recs, err := l.Store.ReadStream(ctx, stream, eventstore.Forwards, 0, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || err == nil && len(recs) == 0 {
		return eventstore.RecordedEvent{}, false, nil
	}
	if err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	return recs[0], true, nil
}

// ReadEvent returns the event at pos (eventstore.ErrEventNotFound when the
// log holds none there).
func (l *Log) ReadEvent(ctx context.Context, pos eventstore.Position) (eventstore.RecordedEvent, error) {
	return l.Store.ReadEvent(ctx, pos)
}
