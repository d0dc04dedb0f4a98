package reconciler

import (
	"context"
	"errors"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/projections"
)

// DefaultDunning is when a declined renewal is charged again, after the
// period's end: one, three and five days.
var DefaultDunning = []time.Duration{24 * time.Hour, 72 * time.Hour, 120 * time.Hour}

// Renewals lists the subscriptions whose next charge by the ledger is due
// at now (the read models' index), earliest first, after the cursor: a
// hint for the scheduler, which asks the ledger.
type Renewals interface {
	DueRenewals(ctx context.Context, now, after time.Time, afterID string, limit int) ([]projections.DueSubscription, error)
}

// schedule asks, every RenewEvery, each subscription the read models show
// due whether a charge is due now, and records it (subscription.renewal_due)
// for the reconciler to make. The domain decides from the ledger; the
// append under the subscription's revision makes one attempt of a period
// once, across restarts and instances. Nothing is kept in memory: after a
// restart the next round finds what is due.
func (r *Reconciler) schedule(ctx context.Context) error {
	if r.cfg.Renewals == nil {
		return nil
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.RenewDue(ctx, r.now()); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("reconciler: renewals", "error", err)
		}
		t.Reset(r.cfg.RenewEvery)
	}
}

// renewalPage is how many due subscriptions one read of the index returns.
const renewalPage = 500

// RenewDue records every renewal charge due at now, each decided at its
// user's time (a test clock that was advanced stays where it was put). It
// returns the first error that stopped it; the next round goes on from the
// start.
func (r *Reconciler) RenewDue(ctx context.Context, now time.Time) error {
	subs := app.Subscriptions(r.cfg.Log)
	var after time.Time
	var afterID string
	for {
		page, err := r.cfg.Renewals.DueRenewals(ctx, now, after, afterID, renewalPage)
		if err != nil {
			return err
		}
		for _, d := range page {
			id, err := domain.ParseSubscriptionID(d.ID)
			if err != nil {
				continue
			}
			meta := app.Metadata{CorrelationID: d.ID}
			_, err = subs.Decide(ctx, id, meta, func(s *domain.Subscription) ([]domain.Event, error) {
				at, err := r.cfg.Log.UserNow(ctx, s.UserID)
				if err != nil {
					return nil, err
				}
				return s.DueRenewal(at, r.cfg.Dunning)
			})
			if err != nil {
				return err
			}
		}
		if len(page) < renewalPage {
			return nil
		}
		after, afterID = page[len(page)-1].DueAt, page[len(page)-1].ID
	}
}

// renewalDue makes one attempt of a renewal the ledger bills: the first
// places the period's order; each charges it with its own key
// (renewal_<event id>); the outcome goes on the order (paid, or the
// decline kept while retries follow) and on the subscription (renewed,
// past_due, or canceled after the final attempt). Handled again after a
// crash, an attempt whose outcome the order already shows only finishes
// the subscription's side; a charge asked again returns its first answer.
func (r *Reconciler) renewalDue(ctx context.Context, rec eventstore.RecordedEvent, due domain.SubscriptionRenewalDue, meta app.Metadata) error {
	defer r.handled(due.SubscriptionID)
	subs, orders := app.Subscriptions(r.cfg.Log), app.Orders(r.cfg.Log)
	s, err := subs.Load(ctx, due.SubscriptionID)
	if err != nil {
		return err
	}
	order, err := orders.Load(ctx, due.RenewalOrderID)
	if err != nil {
		return err
	}
	if order.ID == "" {
		if !s.Live() {
			return nil // canceled before the first attempt: nothing is charged
		}
		placed := s.RenewalOrder(due)
		if _, err := r.cfg.Log.Append(ctx, placed.StreamID(), eventstore.NoStream, []domain.Event{placed}, nil, meta); err != nil && !errors.Is(err, eventstore.ErrConflict) {
			return err
		}
		if order, err = orders.Load(ctx, due.RenewalOrderID); err != nil {
			return err
		}
	}
	now, err := r.cfg.Log.UserNow(ctx, due.UserID)
	if err != nil {
		return err
	}
	var p domain.Payment
	if recorded, ok := attemptOutcome(order, due); ok {
		p = recorded
	} else {
		if !s.Live() || s.Attempt != due.Attempt {
			return nil // canceled since, or a later attempt supersedes this one
		}
		res, err := r.chargeRenewal(ctx, rec, order, s.PaymentMethodID)
		if err != nil {
			return err
		}
		p = paymentOf(res)
		if _, err := orders.Decide(ctx, due.RenewalOrderID, meta, func(o *domain.Order) ([]domain.Event, error) {
			return o.SettleRenewalAttempt(due, p, now)
		}); err != nil {
			return err
		}
	}
	if _, err := subs.Decide(ctx, due.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
		return s.SettleRenewal(due, p, r.cfg.Dunning, now)
	}); err != nil || !p.Succeeded {
		return err
	}
	// Paid for a subscription canceled meanwhile: the money goes back.
	if s, err = subs.Load(ctx, due.SubscriptionID); err != nil || s.Renewed(due.RenewalOrderID) {
		return err
	}
	_, err = orders.Decide(ctx, due.RenewalOrderID, meta, func(o *domain.Order) ([]domain.Event, error) { return o.RefundIfPaid(now) })
	return err
}

// attemptOutcome is the outcome of due's attempt when its order already
// shows it: paid (by any attempt), failed, or this attempt's decline.
func attemptOutcome(o *domain.Order, due domain.SubscriptionRenewalDue) (domain.Payment, bool) {
	switch {
	case o.ProviderPaymentID != "":
		return domain.Payment{Succeeded: true, ProviderPaymentID: o.ProviderPaymentID}, true
	case !o.AwaitsPayment() || o.FailedAttempts >= due.Attempt:
		return domain.Payment{FailureCode: o.FailureCode, FailureMessage: o.FailureMessage}, true
	}
	return domain.Payment{}, false
}

// chargeRenewal charges a renewal order on pm, the subscription's card now
// (a retry after a card change charges the new one), keyed by the
// attempt's event. The ledger bills renewals only for a provider that does
// not bill by itself, the sandbox, which never forgets a key.
func (r *Reconciler) chargeRenewal(ctx context.Context, rec eventstore.RecordedEvent, o *domain.Order, pm domain.PaymentMethodID) (payments.ChargeResult, error) {
	customer, card, ok, err := r.cardOf(ctx, o.UserID, pm)
	if err != nil || !ok {
		return neverHadCard, err
	}
	res, err := r.cfg.Provider.Charge(ctx, payments.Charge{
		CustomerID: customer, PaymentMethodID: card, Amount: o.Money.Amount, Currency: string(o.Money.Currency),
		OrderID: string(o.ID), IdempotencyKey: RenewalKey(rec.ID),
	})
	r.cfg.Observe("renewal", string(res.Status))
	return res, err
}

// cardChanged: a provider that bills by itself charges the new card from
// now on; when the ledger bills, a past_due subscription's unpaid renewal
// is retried with it at once (the scheduler would find it too, at its
// next round).
func (r *Reconciler) cardChanged(ctx context.Context, rec eventstore.RecordedEvent, e domain.SubscriptionCardChanged, meta app.Metadata) error {
	if r.cfg.Renewals == nil {
		return r.updateAtProvider(ctx, rec, e.SubscriptionID, func(u *payments.UpdateSubscription) {})
	}
	_, err := app.Subscriptions(r.cfg.Log).Decide(ctx, e.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
		now, err := r.cfg.Log.UserNow(ctx, s.UserID)
		if err != nil {
			return nil, err
		}
		return s.DueRenewal(now, r.cfg.Dunning)
	})
	return err
}

// updateAtProvider passes a change of a subscription the provider bills
// by itself on to it (an Updater), keyed by the event that recorded it: set
// changes u; the card is always the subscription's current one.
func (r *Reconciler) updateAtProvider(ctx context.Context, rec eventstore.RecordedEvent, id domain.SubscriptionID, set func(u *payments.UpdateSubscription)) error {
	up, ok := r.cfg.Provider.(Updater)
	if !ok {
		return nil
	}
	s, err := app.Subscriptions(r.cfg.Log).Load(ctx, id)
	if err != nil || s.ProviderSubscriptionID == "" || s.Ended() {
		return err
	}
	_, card, ok, err := r.cardOf(ctx, s.UserID, s.PaymentMethodID)
	if err != nil {
		return err
	}
	u := payments.UpdateSubscription{ProviderSubscriptionID: s.ProviderSubscriptionID, IdempotencyKey: UpdateKey(rec.ID)}
	if ok {
		u.PaymentMethodID = card
	}
	set(&u)
	err = up.UpdateSubscription(ctx, u)
	r.cfg.Observe("subscription_update", outcome(err))
	return err
}

func ptr[T any](v T) *T { return &v }
