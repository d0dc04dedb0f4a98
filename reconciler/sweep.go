package reconciler

import (
	"context"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// Limbo lists what is still in between in the read models, oldest first,
// after after and before before: orders pending or waiting for a refund,
// subscriptions canceled in the ledger and not confirmed ended at the
// provider. A hint for the sweep, which then asks the ledger.
type Limbo interface {
	Unsettled(ctx context.Context, after, before time.Time, limit int) ([]projections.UnsettledOrder, error)
	UnconfirmedCancels(ctx context.Context, after, before time.Time, limit int) ([]projections.UnconfirmedCancel, error)
}

// sweep runs at start and every SweepEvery: every order still in between
// after SweepAfter, and every subscription whose cancellation the provider
// has not confirmed, has the event that should have settled it handled
// again (same idempotency keys), whatever let it fall through: a lost
// webhook, a refusal an operator has since fixed, a crash, a bug. A
// subscription left running at the provider would go on billing.
func (r *Reconciler) sweep(ctx context.Context) error {
	if r.cfg.Limbo == nil {
		return nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var orders, subscriptions time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		orders = sweepOnce(ctx, r, orders, r.cfg.Limbo.Unsettled, func(o projections.UnsettledOrder) (time.Time, string) { return o.CreatedAt, o.ID }, r.unsettledCause)
		subscriptions = sweepOnce(ctx, r, subscriptions, r.cfg.Limbo.UnconfirmedCancels,
			func(s projections.UnconfirmedCancel) (time.Time, string) { return s.CanceledAt, s.ID }, r.unconfirmedCause)
		t.Reset(r.cfg.SweepEvery)
	}
}

// sweepPage is how many orders (or subscriptions) one round looks at.
const sweepPage = 100

// sweepOnce looks at the next page of list after cursor and returns where
// the next round starts: past the page, or from the beginning once the end
// is reached, so things stuck for good never hide the others. Each item's
// cause (the event that settles it, if it still needs settling) is handled
// again; events already parked are left to their retries.
func sweepOnce[T any](ctx context.Context, r *Reconciler, cursor time.Time,
	list func(ctx context.Context, after, before time.Time, limit int) ([]T, error),
	key func(T) (time.Time, string),
	cause func(ctx context.Context, id string) (eventstore.RecordedEvent, bool, error),
) time.Time {
	page, err := list(ctx, cursor, time.Now().Add(-r.cfg.SweepAfter), sweepPage)
	if err != nil {
		r.cfg.Logger.Warn("reconciler: sweep", "error", err)
		return cursor
	}
	next := time.Time{}
	if len(page) == sweepPage {
		next, _ = key(page[len(page)-1])
	}
	for _, item := range page {
		_, id := key(item)
		rec, ok, err := cause(ctx, id)
		if err != nil || !ok {
			continue
		}
		if parked, err := r.cp.isParked(ctx, rec.Position); err != nil || parked {
			continue
		}
		switch err := r.handle(ctx, rec); {
		case err == nil:
			r.cfg.Observe("sweep", "handled")
		case definite(err):
			r.dropped(rec, err)
		case ctx.Err() == nil:
			r.cfg.Observe("sweep", "parked")
			if err := r.cp.park(ctx, rec.Position, time.Now().Add(r.cfg.RetryMin)); err != nil {
				r.cfg.Logger.Warn("reconciler: sweep: park", "event", rec.ID, "error", err)
			}
		}
	}
	return next
}

// unconfirmedCause is the latest subscription.cancel_requested of a
// subscription canceled in the ledger and not confirmed ended.
func (r *Reconciler) unconfirmedCause(ctx context.Context, id string) (eventstore.RecordedEvent, bool, error) {
	sub, err := domain.ParseSubscriptionID(id)
	if err != nil {
		return eventstore.RecordedEvent{}, false, nil
	}
	s, err := app.Subscriptions(r.cfg.Log).Load(ctx, sub)
	if err != nil || s.ProviderCanceled || !s.CancelRequested {
		return eventstore.RecordedEvent{}, false, err
	}
	return r.cfg.Log.LastEvent(ctx, sub.Stream(), func(x eventstore.RecordedEvent) bool { return x.Type == domain.EventSubscriptionCancelRequested })
}

// unsettledCause is the event that settles an order still in between: its
// order.placed while its payment has no outcome, its latest
// order.refund_requested while its refund has none.
func (r *Reconciler) unsettledCause(ctx context.Context, id string) (eventstore.RecordedEvent, bool, error) {
	order, err := domain.ParseOrderID(id)
	if err != nil {
		return eventstore.RecordedEvent{}, false, nil
	}
	o, err := app.Orders(r.cfg.Log).Load(ctx, order)
	switch {
	case err != nil:
		return eventstore.RecordedEvent{}, false, err
	case o.AwaitsPayment():
		return r.cfg.Log.FirstEvent(ctx, order.Stream())
	case o.AwaitsRefund():
		return r.cfg.Log.LastEvent(ctx, order.Stream(), func(x eventstore.RecordedEvent) bool { return x.Type == domain.EventRefundRequested })
	}
	return eventstore.RecordedEvent{}, false, nil
}
