package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// charge is the provider's answer for an order's payment.
type charge struct {
	result         payments.ChargeResult
	subscriptionID string // the provider's, for a subscription's first order
	periodStart    time.Time
}

// orderPlaced charges the order (or starts its subscription at the
// provider) and records the outcome on the order and its subscription. Each
// step checks the ledger first and the provider call is idempotent, so
// handling it again after a crash at any point finishes what is missing.
func (r *Reconciler) orderPlaced(ctx context.Context, rec eventstore.RecordedEvent, placed domain.OrderPlaced, meta app.Metadata) error {
	if placed.Renewal {
		// Charged by its subscription.renewal_due attempts (the ledger
		// bills), or placed paid (the provider billed by itself).
		return nil
	}
	first := placed.SubscriptionID != ""
	if first {
		if err := r.ensureSubscriptionCreated(ctx, rec, placed); err != nil {
			return err
		}
	}
	loaded, err := r.loadOrder(ctx, rec, placed)
	if err != nil {
		return err
	}
	order := loaded.Agg
	var sub *domain.Subscription
	if first {
		if sub, err = app.Subscriptions(r.cfg.Log).Load(ctx, placed.SubscriptionID); err != nil {
			return err
		}
	}
	pay := order.AwaitsPayment() || (sub != nil && sub.AwaitsStart())
	// A subscription canceled while its first payment went through, not yet
	// undone (a crash or an unknown answer interrupted it): finish it.
	undo := sub != nil && sub.CanceledBeforeStart() && order.IsRefundable()
	if !pay && !undo {
		return nil // settled
	}
	// Never decide an outcome without the provider's answer: a call may
	// have gone through before a crash, and the same key returns it.
	c, err := r.pay(ctx, rec, placed, sub)
	if err != nil {
		return err
	}
	// The subscription first: a client shown the order settled then finds
	// its subscription settled too (the read models fold in log order).
	if sub != nil {
		if err := r.recordFirstPeriod(ctx, placed, c, meta); err != nil {
			return err
		}
	}
	if err := r.recordPayment(ctx, placed, loaded, c, meta); err != nil {
		return err
	}
	if sub != nil {
		return r.settleCanceledStart(ctx, rec, placed, c, meta)
	}
	return nil
}

// justPlaced is how recent an order.placed must be for the reconciler to
// charge its order without reading the order first.
const justPlaced = time.Minute

// clockSkew is how far ahead of the reconciler's clock another machine's
// may stamp an event and still count as just placed.
const clockSkew = time.Second

// loadOrder returns the order of placed as the ledger has it, for deciding
// whether to charge it. An order without a subscription placed less than
// justPlaced ago is taken to be as placed, without reading its stream: the
// only events its stream can have gained since are the outcome of this
// very charge, recorded by this reconciler before a crash or by another
// instance's, and a charge asked again with the same idempotency key
// within the provider's 24 hours returns that first outcome without
// moving money; its record is then refused by the stream's revision and
// decided again on the order read afresh. An older order.placed (a
// reconciler catching up, a parked event, the sweep) is always checked
// against the ledger first, so no charge is ever asked again once the
// provider may have forgotten its key. Both the time the log recorded the
// event and the time the order was placed must be recent: a log copied
// into another store (a migration) records old orders anew, and an event
// stamped far in the future by a wrong clock is not recent either.
func (r *Reconciler) loadOrder(ctx context.Context, rec eventstore.RecordedEvent, placed domain.OrderPlaced) (app.Loaded[*domain.Order], error) {
	if placed.SubscriptionID == "" && rec.Revision == 0 && recent(rec.RecordedAt) && recent(placed.PlacedAt) {
		order := &domain.Order{}
		order.Apply(placed)
		return app.Assume(order, rec), nil
	}
	return app.Orders(r.cfg.Log).Loaded(ctx, placed.OrderID)
}

// recent reports a time less than justPlaced ago, and not ahead of the
// clock by more than clockSkew.
func recent(t time.Time) bool {
	age := time.Since(t)
	return age > -clockSkew && age < justPlaced
}

// knownPlan returns the plan id as last defined, retired or not (what an
// order placed on it was sold under), looked up in the log when this
// instance's cached catalog does not have it yet (another instance may
// have just published it).
func (r *Reconciler) knownPlan(ctx context.Context, id domain.PlanID) (domain.Plan, bool, error) {
	catalog, err := r.cfg.Log.Catalog(ctx, func(c *domain.Catalog) bool { _, ok := c.Known(id); return ok })
	if err != nil {
		return domain.Plan{}, false, err
	}
	plan, ok := catalog.Known(id)
	return plan, ok, nil
}

// settleCanceledStart: the user canceled the subscription while its first
// payment was in flight, and the payment went through. The provider's
// subscription is ended and the order refunded, so no money is kept and
// nothing bills again.
func (r *Reconciler) settleCanceledStart(ctx context.Context, rec eventstore.RecordedEvent, placed domain.OrderPlaced, c charge, meta app.Metadata) error {
	if !c.result.Succeeded() {
		return nil
	}
	s, err := app.Subscriptions(r.cfg.Log).Load(ctx, placed.SubscriptionID)
	if err != nil || !s.CanceledBeforeStart() {
		return err // started before it was canceled: the cancellation ends it at the provider
	}
	if c.subscriptionID != "" {
		err := r.cfg.Provider.CancelSubscription(ctx, payments.CancelSubscription{
			ProviderSubscriptionID: c.subscriptionID, IdempotencyKey: CancelKey(rec.ID)})
		if err != nil && !errors.Is(err, payments.ErrNotFound) {
			return err
		}
	}
	now := r.now()
	_, err = app.Orders(r.cfg.Log).Decide(ctx, placed.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) { return o.RefundIfPaid(now) })
	return err
}

// pay asks the provider to charge the order, keyed by the order.placed
// event: a plain charge, or for a subscription's first order (sub not nil)
// the subscription's start with its first period.
func (r *Reconciler) pay(ctx context.Context, rec eventstore.RecordedEvent, placed domain.OrderPlaced, sub *domain.Subscription) (charge, error) {
	customer, card, ok, err := r.cardOf(ctx, placed.UserID, placed.PaymentMethodID)
	if err != nil || !ok {
		return charge{result: neverHadCard}, err
	}
	key := PaymentKey(rec.ID)
	q := payments.FindPayment{CustomerID: customer, OrderID: string(placed.OrderID), SubscriptionID: string(placed.SubscriptionID),
		Since: earliest(rec.RecordedAt, placed.PlacedAt), IdempotencyKey: key} // the first call was made no earlier
	if _, expired := r.forgetful(q.Since); expired {
		return r.lookUpPayment(ctx, q, sub != nil, domain.FailurePaymentExpired)
	}
	if sub != nil && sub.CanceledBeforeStart() {
		// Canceled before it started: not started now. A call made
		// before the cancellation is found and then undone.
		return r.lookUpPayment(ctx, q, true, domain.FailureSubscriptionCanceled)
	}
	if sub == nil {
		res, err := r.cfg.Provider.Charge(ctx, payments.Charge{
			CustomerID: customer, PaymentMethodID: card,
			Amount: placed.Amount, Currency: string(placed.Currency), OrderID: string(placed.OrderID), IdempotencyKey: key,
		})
		r.cfg.Observe("charge", string(res.Status))
		return charge{result: res}, err
	}
	plan, _, err := r.knownPlan(ctx, placed.PlanID)
	if err != nil {
		return charge{}, err
	}
	res, err := r.cfg.Provider.StartSubscription(ctx, payments.StartSubscription{
		CustomerID: customer, PaymentMethodID: card, PlanID: string(placed.PlanID), PriceRef: plan.ProviderPrice,
		Amount: placed.Amount, Currency: string(placed.Currency),
		Interval: string(sub.Interval), IntervalCount: sub.IntervalCount,
		SubscriptionID: string(placed.SubscriptionID), OrderID: string(placed.OrderID), IdempotencyKey: key,
	})
	r.cfg.Observe("subscription_start", string(res.FirstPayment.Status))
	return charge{result: res.FirstPayment, subscriptionID: res.ProviderSubscriptionID, periodStart: res.PeriodStart}, err
}

// cardOf returns the user's customer at the provider and the provider's
// id of card pm, which the wallet has (or had: a card detached since is
// still asked about, as a charge may have gone through before; the
// provider refuses a new one on a removed card). ok is false when the
// wallet never had pm.
func (r *Reconciler) cardOf(ctx context.Context, userID string, pm domain.PaymentMethodID) (customer, card string, ok bool, err error) {
	provider := r.cfg.Provider.Name()
	wallet, err := r.cfg.Log.Wallet(ctx, userID, func(w *domain.Wallet) bool {
		_, card := w.EverAttached(pm)
		_, customer := w.CustomerID(provider)
		return card && customer
	})
	if err != nil {
		return "", "", false, err
	}
	c, ok := wallet.EverAttached(pm)
	customer, _ = wallet.CustomerID(provider)
	return customer, c.ProviderPaymentMethodID, ok, nil
}

// neverHadCard is the decline of a charge on a card the wallet never had.
var neverHadCard = payments.ChargeResult{Status: payments.Failed, FailureCode: "payment_method_not_found",
	FailureMessage: "the order names a card this wallet never had"}

// lookUpPayment asks the provider what a call for the order made, where
// calling again could pay: once its key may have expired at the provider
// (the provider is then Forgetful), or for a subscription canceled before
// its first payment. Nothing there: no call reached the provider, none is
// made now, and the order fails with notFound, uncharged.
func (r *Reconciler) lookUpPayment(ctx context.Context, q payments.FindPayment, subscription bool, notFound string) (charge, error) {
	var c charge
	found := false
	if subscription {
		res, ok, err := r.cfg.Provider.FindSubscription(ctx, q)
		if err != nil {
			return charge{}, err
		}
		c, found = charge{result: res.FirstPayment, subscriptionID: res.ProviderSubscriptionID, periodStart: res.PeriodStart}, ok
	} else {
		res, ok, err := r.cfg.Provider.(Forgetful).FindCharge(ctx, q)
		if err != nil {
			return charge{}, err
		}
		c, found = charge{result: res}, ok
	}
	if !found {
		r.cfg.Observe("payment_lookup", "not_found")
		return charge{result: payments.ChargeResult{Status: payments.Failed, FailureCode: notFound, FailureMessage: failureMessages[notFound]}}, nil
	}
	r.cfg.Observe("payment_lookup", string(c.result.Status))
	return c, nil
}

var failureMessages = map[string]string{
	domain.FailurePaymentExpired:       "no payment reached the provider while the order's idempotency key lived; nothing was charged",
	domain.FailureSubscriptionCanceled: "the subscription was canceled before its first payment; nothing was charged",
}

// earliest is the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// recordPayment records the charge's outcome on the order, deciding first
// on the order as loaded before the charge (it reads it once per order).
func (r *Reconciler) recordPayment(ctx context.Context, placed domain.OrderPlaced, loaded app.Loaded[*domain.Order], c charge, meta app.Metadata) error {
	now := r.now()
	_, err := app.Orders(r.cfg.Log).DecideLoaded(ctx, placed.OrderID, loaded, meta,
		func(o *domain.Order) ([]domain.Event, error) { return o.SettlePayment(paymentOf(c.result), now) })
	if err != nil {
		return fmt.Errorf("record payment of %s: %w", placed.OrderID, err)
	}
	if !c.result.Succeeded() {
		// A decline is the card's answer, not the service's failure:
		// told at info, with the code a support person asks for.
		r.cfg.Logger.Info("payment declined", "order", placed.OrderID, "user_id", placed.UserID,
			"decline_code", c.result.FailureCode, "provider_payment", c.result.ProviderPaymentID)
	}
	return nil
}

// paymentOf is the domain's view of a charge's answer.
func paymentOf(res payments.ChargeResult) domain.Payment {
	return domain.Payment{Succeeded: res.Succeeded(), ProviderPaymentID: res.ProviderPaymentID, FailureCode: res.FailureCode, FailureMessage: res.FailureMessage}
}

// recordFirstPeriod starts the subscription when its first payment
// succeeded and ends it when it failed.
func (r *Reconciler) recordFirstPeriod(ctx context.Context, placed domain.OrderPlaced, c charge, meta app.Metadata) error {
	now, err := r.cfg.Log.UserNow(ctx, placed.UserID)
	if err != nil {
		return err
	}
	// The provider's period when it bills by itself; the user's time when
	// the ledger bills (a test clock moves it).
	start := c.periodStart
	if start.IsZero() || r.cfg.Renewals != nil {
		start = now
	}
	_, err = app.Subscriptions(r.cfg.Log).Decide(ctx, placed.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
		return s.SettleFirstPayment(paymentOf(c.result), start, c.subscriptionID, now)
	})
	if err != nil {
		return fmt.Errorf("record first period of %s: %w", placed.SubscriptionID, err)
	}
	return nil
}

// ensureSubscriptionCreated appends the subscription.created event that
// placing the order decided, in case the process that placed it stopped
// before writing it. Same event id as the HTTP path: appended once.
func (r *Reconciler) ensureSubscriptionCreated(ctx context.Context, rec eventstore.RecordedEvent, placed domain.OrderPlaced) error {
	if _, exists, err := r.cfg.Log.FirstEvent(ctx, placed.SubscriptionID.Stream()); err != nil || exists {
		return err
	}
	plan, ok, err := r.knownPlan(ctx, placed.PlanID) // retired since: the order was placed on it
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: plan %s of order %s is gone", domain.ErrInvalidTransition, placed.PlanID, placed.OrderID)
	}
	events := []domain.Event{placed, domain.NewSubscriptionCreated(placed, plan)}
	ids := domain.DecidedEventIDs(rec.ID, events)
	meta := causedBy(rec)
	meta.CausationID = ""
	_, err = r.cfg.Log.Append(ctx, placed.SubscriptionID.Stream(), eventstore.NoStream, events[1:], ids[1:], meta)
	if errors.Is(err, eventstore.ErrConflict) {
		return nil
	}
	return err
}

// refundRequested refunds the order at the provider and records the outcome.
func (r *Reconciler) refundRequested(ctx context.Context, rec eventstore.RecordedEvent, e domain.RefundRequested, meta app.Metadata) error {
	orders := app.Orders(r.cfg.Log)
	order, err := orders.Load(ctx, e.OrderID)
	if err != nil || !order.AwaitsRefund() {
		return err // settled
	}
	latest, _, err := r.cfg.Log.LastEvent(ctx, e.OrderID.Stream(), func(x eventstore.RecordedEvent) bool { return x.Type == domain.EventRefundRequested })
	if err != nil || latest.ID != rec.ID {
		return err // a later refund request supersedes this one
	}
	res, err := r.refund(ctx, rec, e, *order)
	if err != nil {
		return err
	}
	r.cfg.Observe("refund", string(res.Status))
	if res.Pending() {
		// Parked and asked again (same key) until settled; the
		// refund.updated webhook may settle it first.
		return errOutcomePending
	}
	now := r.now()
	_, err = orders.Decide(ctx, e.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) { return o.SettleRefund(refundOf(res), now) })
	return err
}

// refundOf is the domain's view of a refund's definite answer.
func refundOf(res payments.RefundResult) domain.RefundOutcome {
	return domain.RefundOutcome{Succeeded: res.Succeeded(), ProviderRefundID: res.ProviderRefundID, FailureCode: res.FailureCode}
}

// refund refunds the order in full, keyed by its refund request. Past the
// key's life at the provider a refund that went through is looked up
// first; none found, asking again is safe: a provider refunds no more
// than was paid, so a second full refund is refused, never paid.
func (r *Reconciler) refund(ctx context.Context, rec eventstore.RecordedEvent, e domain.RefundRequested, order domain.Order) (payments.RefundResult, error) {
	if f, expired := r.forgetful(earliest(rec.RecordedAt, e.RequestedAt)); expired {
		res, found, err := f.FindRefund(ctx, payments.FindRefund{ProviderPaymentID: order.ProviderPaymentID, OrderID: string(order.ID)})
		if err != nil || found {
			return res, err
		}
	}
	return r.cfg.Provider.Refund(ctx, payments.Refund{
		ProviderPaymentID: order.ProviderPaymentID, Amount: order.Money.Amount, Currency: string(order.Money.Currency),
		OrderID: string(order.ID), IdempotencyKey: RefundKey(rec.ID),
	})
}

// orderRefunded ends the subscription whose first order was refunded.
func (r *Reconciler) orderRefunded(ctx context.Context, e domain.OrderRefunded, meta app.Metadata) error {
	order, err := app.Orders(r.cfg.Log).Load(ctx, e.OrderID)
	if err != nil || order.SubscriptionID == "" || order.Renewal {
		return err
	}
	now, err := r.cfg.Log.UserNow(ctx, order.UserID)
	if err != nil {
		return err
	}
	_, err = app.Subscriptions(r.cfg.Log).Decide(ctx, order.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
		return s.RequestCancel(domain.ReasonFirstOrderRefunded, now)
	})
	return err
}

// errOutcomePending: the provider accepted the request and has not settled
// it yet; the event is retried until it has.
var errOutcomePending = errors.New("the provider has not settled it yet")
