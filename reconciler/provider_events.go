package reconciler

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/payments"
)

// Interpreter reads a recorded provider event (a webhook) for the ledger.
type Interpreter interface {
	Interpret(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error)
}

// providerEvent acts on news from the provider, recorded by the Inbox.
// Every outcome is appended with an id derived from the recorded event, and
// every decision first looks at the ledger, so a webhook that arrives
// twice, late, or before the reconciler's own call returned changes things
// once.
func (r *Reconciler) providerEvent(ctx context.Context, e domain.ProviderEventReceived, meta app.Metadata) error {
	if r.cfg.Interpreter == nil {
		return nil
	}
	n, err := r.cfg.Interpreter.Interpret(ctx, payments.ProviderEvent{
		Provider: e.Provider, ID: e.EventID, Type: e.Type, Created: e.Created, Object: e.Object, PreviousAttributes: e.PreviousAttributes,
	})
	if err != nil {
		return err
	}
	now := r.now()
	switch n.Kind {
	case payments.NoticeSetupCompleted:
		_, err := (&app.Service{Log: r.cfg.Log}).AttachCard(ctx, n.Setup, meta)
		return err
	case payments.NoticePaymentSucceeded:
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) { return o.Pay(n.ProviderPaymentID, now) })
	case payments.NoticePaymentFailed:
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) {
			if o.Status != domain.OrderStatusPending {
				return nil, nil // a failed attempt after the order settled changes nothing
			}
			return o.FailPayment(n.FailureCode, n.FailureMessage, now)
		})
	case payments.NoticeRefundSucceeded:
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) {
			if n.Amount != 0 && n.Amount != o.Money.Amount {
				// A partial refund (made in the dashboard): not an order's
				// refund, which is always full. Left for an operator.
				r.cfg.Logger.Warn("reconciler: partial refund at the provider is not recorded", "order", o.ID, "refunded", n.Amount, "amount", o.Money.Amount)
				return nil, nil
			}
			return o.RefundedByProvider(n.ProviderRefundID, now)
		})
	case payments.NoticeRefundFailed:
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) {
			if o.Status != domain.OrderStatusRefundPending {
				return nil, nil
			}
			return o.FailRefund(failureCode(n.FailureCode), now)
		})
	case payments.NoticeSubscriptionEnded:
		return r.subscriptionEnded(ctx, n.SubscriptionID, meta, now)
	case payments.NoticeSubscriptionRenewed:
		return r.subscriptionRenewed(ctx, n, meta, now)
	case payments.NoticeSubscriptionPastDue:
		// News older than the last renewal recorded is a failed attempt a
		// later payment made good: nothing to mark. (Stripe's times are whole
		// seconds: only an earlier second is older.)
		var renewedAt time.Time
		if sub, err := domain.ParseSubscriptionID(n.SubscriptionID); err == nil {
			renewed, _, err := r.lastMatching(ctx, sub.Stream(), func(x eventstore.RecordedEvent) bool { return x.Type == domain.EventSubscriptionRenewed })
			if err != nil {
				return err
			}
			renewedAt = renewed.RecordedAt
		}
		if e.Created.Before(renewedAt.Truncate(time.Second)) {
			return err
		}
		return r.updateSubscription(ctx, n.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
			switch s.Status {
			case domain.SubscriptionStatusCanceled:
				return nil, nil
			case domain.SubscriptionStatusIncomplete:
				return nil, errStartNotRecorded // a renewal failed: the start went through
			}
			return s.MarkPastDue(n.FailureCode, now)
		})
	case payments.NoticeCardDetached:
		return r.cardDetached(ctx, n, meta, now)
	}
	return nil
}

func (r *Reconciler) updateSubscription(ctx context.Context, id string, meta app.Metadata, decide func(*domain.Subscription) ([]domain.Event, error)) error {
	sub, err := domain.ParseSubscriptionID(id)
	if err != nil {
		return nil // not a subscription of this ledger
	}
	_, _, err = app.Update(ctx, r.cfg.Log, sub.Stream(), func() *domain.Subscription { return &domain.Subscription{} },
		func(s *domain.Subscription) ([]domain.Event, error) {
			if s.ID == "" {
				return nil, nil
			}
			return decide(s)
		}, meta)
	return err
}

// subscriptionRenewed: the provider charged the next period. The ledger
// records a renewal order, already paid (so nothing charges it again), and
// the renewed period. A replay of the same news finds the renewal it
// caused and stops there: the period has moved on, and a second renewal
// would be the next period's.
func (r *Reconciler) subscriptionRenewed(ctx context.Context, n payments.Notice, meta app.Metadata, now time.Time) error {
	id, err := domain.ParseSubscriptionID(n.SubscriptionID)
	if err != nil {
		return nil
	}
	cause, err := uuid.Parse(meta.CausationID)
	if err != nil {
		return err
	}
	renewal := domain.EventIDFor(cause, domain.EventSubscriptionRenewed)
	if _, done, err := r.lastMatching(ctx, id.Stream(), func(x eventstore.RecordedEvent) bool { return x.ID == renewal }); err != nil || done {
		return err
	}
	var s domain.Subscription
	if _, err := r.cfg.Log.Load(ctx, id.Stream(), &s); err != nil || s.ID == "" {
		return err
	}
	if s.Status == domain.SubscriptionStatusIncomplete {
		// Renewed at the provider, so started there: the start's
		// answer is not recorded yet (unknown, parked). The renewal
		// is the period after it, and waits for it.
		return errStartNotRecorded
	}
	decided, err := s.RenewalCharged(domain.ChargedRenewal{
		InvoiceID: n.InvoiceID, ProviderPaymentID: n.ProviderPaymentID, Amount: n.Amount, Currency: domain.Currency(n.Currency),
		PeriodStart: n.PeriodStart, PeriodEnd: n.PeriodEnd,
	}, now)
	if err != nil {
		return err
	}
	placed := decided[0].(domain.OrderPlaced)
	_, err = r.cfg.Log.Append(ctx, placed.OrderID.Stream(), eventstore.NoStream, decided, nil, meta)
	if err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return err
	}
	if s.Status != domain.SubscriptionStatusActive && s.Status != domain.SubscriptionStatusPastDue {
		// The provider charged a subscription the ledger had ended: the
		// order explains the money, and is refunded.
		return r.updateOrder(ctx, string(placed.OrderID), meta, func(o *domain.Order) ([]domain.Event, error) {
			if o.Status != domain.OrderStatusPaid {
				return nil, nil
			}
			return o.RequestRefund(now)
		})
	}
	periodStart, periodEnd := s.CurrentPeriodEnd, n.PeriodEnd
	if !n.PeriodStart.IsZero() {
		periodStart = n.PeriodStart
	}
	return r.updateSubscription(ctx, n.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) {
		return s.Renew(placed.OrderID, periodStart, periodEnd, now)
	})
}

// errStartNotRecorded: news of a subscription's later period came before
// its start was recorded; retried until it is.
var errStartNotRecorded = errors.New("the subscription's start is not recorded yet")

// cardDetached: a card was removed at the provider; the ledger stops
// listing it.
func (r *Reconciler) cardDetached(ctx context.Context, n payments.Notice, meta app.Metadata, now time.Time) error {
	if n.UserID == "" {
		return nil
	}
	_, _, err := app.Update(ctx, r.cfg.Log, domain.WalletStream(n.UserID), func() *domain.Wallet { return domain.NewWallet(n.UserID) },
		func(w *domain.Wallet) ([]domain.Event, error) {
			for _, c := range w.Cards() {
				if c.ProviderPaymentMethodID == n.ProviderPaymentMethodID {
					return w.DetachCard(c.ID, now)
				}
			}
			return nil, nil
		}, meta)
	return err
}

func (r *Reconciler) updateOrder(ctx context.Context, id string, meta app.Metadata, decide func(*domain.Order) ([]domain.Event, error)) error {
	order, err := domain.ParseOrderID(id)
	if err != nil {
		return nil // not an order of this ledger
	}
	_, _, err = app.Update(ctx, r.cfg.Log, order.Stream(), func() *domain.Order { return &domain.Order{} },
		func(o *domain.Order) ([]domain.Event, error) {
			if o.ID == "" {
				return nil, nil // not an order of this ledger
			}
			return decide(o)
		}, meta)
	r.cfg.Observe("provider_event", outcome(err))
	return err
}

// subscriptionEnded: the provider ended a subscription (in its dashboard,
// or after failed renewals): the ledger records the cancellation and its
// confirmation at once.
func (r *Reconciler) subscriptionEnded(ctx context.Context, id string, meta app.Metadata, now time.Time) error {
	sub, err := domain.ParseSubscriptionID(id)
	if err != nil {
		return nil
	}
	_, _, err = app.Update(ctx, r.cfg.Log, sub.Stream(), func() *domain.Subscription { return &domain.Subscription{} },
		func(s *domain.Subscription) ([]domain.Event, error) {
			if s.ID == "" {
				return nil, nil
			}
			requested, err := s.RequestCancel(domain.ReasonProvider, now)
			if err != nil {
				return nil, err
			}
			for _, e := range requested {
				s.Apply(e)
			}
			confirmed, err := s.ConfirmCanceled(domain.ReasonProvider, now)
			return append(requested, confirmed...), err
		}, meta)
	return err
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "recorded"
}
