package reconciler

import (
	"context"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// Limbo lists orders still pending or waiting for a refund (the read
// models), oldest first, placed after after and before before: a hint for
// the sweep, which then asks the ledger.
type Limbo interface {
	Unsettled(ctx context.Context, after, before time.Time, limit int) ([]projections.UnsettledOrder, error)
}

// sweep runs at start and every SweepEvery: every order still in between
// after SweepAfter has the event that should have settled it handled again
// (same idempotency keys), whatever let it fall through: a lost webhook, a
// refusal an operator has since fixed, a crash, a bug.
func (r *Reconciler) sweep(ctx context.Context) error {
	if r.cfg.Limbo == nil {
		return nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var cursor time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cursor = r.sweepOnce(ctx, cursor)
		t.Reset(r.cfg.SweepEvery)
	}
}

// sweepPage is how many orders one round looks at.
const sweepPage = 100

// sweepOnce looks at the next page of unsettled orders after cursor and
// returns where the next round starts: past the page, or from the
// beginning once the end is reached, so orders stuck for good never hide
// the others. Events already parked are left to their retries.
func (r *Reconciler) sweepOnce(ctx context.Context, cursor time.Time) time.Time {
	page, err := r.cfg.Limbo.Unsettled(ctx, cursor, time.Now().Add(-r.cfg.SweepAfter), sweepPage)
	if err != nil {
		r.cfg.Logger.Warn("reconciler: sweep", "error", err)
		return cursor
	}
	next := time.Time{}
	if len(page) == sweepPage {
		next = page[len(page)-1].CreatedAt
	}
	for _, o := range page {
		rec, ok, err := r.unsettledCause(ctx, o.ID)
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

// unsettledCause is the event that settles an order still in between: its
// order.placed while pending, its latest refund_requested while refunding.
func (r *Reconciler) unsettledCause(ctx context.Context, id string) (eventstore.RecordedEvent, bool, error) {
	order, err := domain.ParseOrderID(id)
	if err != nil {
		return eventstore.RecordedEvent{}, false, nil
	}
	recs, err := r.cfg.Log.Store.ReadStream(ctx, order.Stream(), eventstore.Forwards, 0, 1000)
	if err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	var o domain.Order
	var lastRefund eventstore.RecordedEvent
	for _, rec := range recs {
		e, err := domain.Decode(rec.Type, rec.Data)
		if err != nil {
			return eventstore.RecordedEvent{}, false, err
		}
		o.Apply(e)
		if rec.Type == domain.EventRefundRequested {
			lastRefund = rec
		}
	}
	switch o.Status {
	case domain.OrderStatusPending:
		return recs[0], true, nil
	case domain.OrderStatusRefundPending:
		return lastRefund, lastRefund.ID != [16]byte{}, nil
	}
	return eventstore.RecordedEvent{}, false, nil
}
