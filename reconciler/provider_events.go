package reconciler

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// Interpreter reads a recorded provider event (a webhook) for the ledger.
type Interpreter interface {
	Interpret(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error)
}

// news is a provider event as the reconciler acts on it: what it means
// (the Notice), when the provider created it, and the metadata and time of
// what it causes.
type news struct {
	payments.Notice
	created time.Time
	meta    app.Metadata
	now     time.Time
}

// providerEvent acts on news from the provider, recorded by the Inbox, one
// method per kind of notice. Every outcome is appended with an id derived
// from the recorded event, and every decision is the domain's on the
// ledger's current state, so a webhook that arrives twice, late, or before
// the reconciler's own call returned changes things once.
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
	act, ok := noticeActions[n.Kind]
	if !ok {
		return nil // nothing for the ledger
	}
	return act(r, ctx, news{Notice: n, created: e.Created, meta: meta, now: r.now()})
}

var noticeActions = map[payments.NoticeKind]func(*Reconciler, context.Context, news) error{
	payments.NoticeSetupCompleted:      (*Reconciler).setupCompleted,
	payments.NoticePaymentSucceeded:    (*Reconciler).paymentReported,
	payments.NoticePaymentFailed:       (*Reconciler).paymentReported,
	payments.NoticeRefundSucceeded:     (*Reconciler).refundSucceeded,
	payments.NoticeRefundFailed:        (*Reconciler).refundFailed,
	payments.NoticeSubscriptionEnded:   (*Reconciler).subscriptionEnded,
	payments.NoticeSubscriptionRenewed: (*Reconciler).subscriptionRenewed,
	payments.NoticeSubscriptionPastDue: (*Reconciler).renewalFailed,
	payments.NoticeCardDetached:        (*Reconciler).cardDetached,
	payments.NoticeCancelAtPeriodEnd:   (*Reconciler).cancelAtPeriodEnd,
}

// cancelAtPeriodEnd: the provider says the subscription ends at its
// period's end, or no longer does (its dashboard, its customer portal).
func (r *Reconciler) cancelAtPeriodEnd(ctx context.Context, n news) error {
	return r.decideSubscription(ctx, n, func(s *domain.Subscription) ([]domain.Event, error) {
		switch {
		case s.Ended():
			return nil, nil
		case n.CancelAtPeriodEnd:
			return s.ScheduleCancel(n.now)
		}
		return s.UnscheduleCancel(n.now)
	})
}

// setupCompleted: the user saved a card on the provider's page.
func (r *Reconciler) setupCompleted(ctx context.Context, n news) error {
	_, err := app.AttachCard(ctx, r.cfg.Log, n.Setup, n.meta)
	return err
}

// paymentReported: the provider says how an order's charge ended.
func (r *Reconciler) paymentReported(ctx context.Context, n news) error {
	p := domain.Payment{Succeeded: n.Kind == payments.NoticePaymentSucceeded, ProviderPaymentID: n.ProviderPaymentID,
		FailureCode: n.FailureCode, FailureMessage: n.FailureMessage}
	return r.decideOrder(ctx, n, func(o *domain.Order) ([]domain.Event, error) { return o.SettlePayment(p, n.now) })
}

// refundSucceeded: the provider refunded an order, asked for or not. A
// partial refund (made in the dashboard) is not an order's, which is
// always full: left for an operator.
func (r *Reconciler) refundSucceeded(ctx context.Context, n news) error {
	return r.decideOrder(ctx, n, func(o *domain.Order) ([]domain.Event, error) {
		if n.Amount != 0 && n.Amount != o.Money.Amount {
			r.cfg.Logger.Warn("reconciler: partial refund at the provider is not recorded", "order", o.ID, "refunded", n.Amount, "amount", o.Money.Amount)
			return nil, nil
		}
		return o.RefundedByProvider(n.ProviderRefundID, n.now)
	})
}

// refundFailed: the provider could not refund an order.
func (r *Reconciler) refundFailed(ctx context.Context, n news) error {
	return r.decideOrder(ctx, n, func(o *domain.Order) ([]domain.Event, error) {
		return o.SettleRefund(domain.RefundOutcome{FailureCode: n.FailureCode}, n.now)
	})
}

// subscriptionEnded: the provider ended a subscription (in its dashboard,
// or after failed renewals).
func (r *Reconciler) subscriptionEnded(ctx context.Context, n news) error {
	reason := domain.ReasonProvider
	if n.PaymentFailed {
		reason = domain.ReasonPaymentFailed // shown as cancel_reason payment_failed, as with the sandbox's dunning
	}
	return r.decideSubscription(ctx, n, func(s *domain.Subscription) ([]domain.Event, error) { return s.EndedByProvider(reason, n.now) })
}

// renewalFailed: the provider could not charge a renewal. News older than
// the last renewal recorded is a failed attempt a later payment made good:
// nothing to mark (Stripe's times are whole seconds: only an earlier
// second is older).
func (r *Reconciler) renewalFailed(ctx context.Context, n news) error {
	id, err := domain.ParseSubscriptionID(n.SubscriptionID)
	if err != nil {
		return nil // not a subscription of this ledger
	}
	renewed, _, err := r.cfg.Log.LastEvent(ctx, id.Stream(), func(x eventstore.RecordedEvent) bool { return x.Type == domain.EventSubscriptionRenewed })
	if err != nil || n.created.Before(renewed.RecordedAt.Truncate(time.Second)) {
		return err
	}
	return r.decideSubscription(ctx, n, func(s *domain.Subscription) ([]domain.Event, error) {
		if s.AwaitsStart() {
			return nil, errStartNotRecorded // a renewal failed: the start went through
		}
		return s.RenewalFailed(n.FailureCode, n.now)
	})
}

// subscriptionRenewed: the provider charged the next period. The ledger
// records a renewal order, already paid (so nothing charges it again), and
// the renewed period. A replay of the same news finds the renewal it
// caused and stops there: the period has moved on, and a second renewal
// would be the next period's.
func (r *Reconciler) subscriptionRenewed(ctx context.Context, n news) error {
	id, err := domain.ParseSubscriptionID(n.SubscriptionID)
	if err != nil {
		return nil
	}
	cause, err := uuid.Parse(n.meta.CausationID)
	if err != nil {
		return err
	}
	renewal := domain.EventIDFor(cause, domain.EventSubscriptionRenewed)
	if _, done, err := r.cfg.Log.LastEvent(ctx, id.Stream(), func(x eventstore.RecordedEvent) bool { return x.ID == renewal }); err != nil || done {
		return err
	}
	s, err := app.Subscriptions(r.cfg.Log).Load(ctx, id)
	if err != nil || s.ID == "" {
		return err
	}
	if s.AwaitsStart() {
		// Renewed at the provider, so started there: the start's
		// answer is not recorded yet (unknown, parked). The renewal
		// is the period after it, and waits for it.
		return errStartNotRecorded
	}
	decided, err := s.RenewalCharged(domain.ChargedRenewal{
		InvoiceID: n.InvoiceID, ProviderPaymentID: n.ProviderPaymentID, Amount: n.Amount, Currency: domain.Currency(n.Currency),
		PeriodStart: n.PeriodStart, PeriodEnd: n.PeriodEnd,
	}, n.now)
	if err != nil {
		return err
	}
	placed := decided[0].(domain.OrderPlaced)
	_, err = r.cfg.Log.Append(ctx, placed.OrderID.Stream(), eventstore.NoStream, decided, nil, n.meta)
	if err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return err
	}
	if !s.Live() {
		// The provider charged a subscription the ledger had ended: the
		// order explains the money, and is refunded.
		_, err := app.Orders(r.cfg.Log).Decide(ctx, placed.OrderID, n.meta, func(o *domain.Order) ([]domain.Event, error) { return o.RefundIfPaid(n.now) })
		return err
	}
	periodStart := s.CurrentPeriodEnd
	if !n.PeriodStart.IsZero() {
		periodStart = n.PeriodStart
	}
	return r.decideSubscription(ctx, n, func(s *domain.Subscription) ([]domain.Event, error) {
		return s.Renew(placed.OrderID, periodStart, n.PeriodEnd, n.now)
	})
}

// errStartNotRecorded: news of a subscription's later period came before
// its start was recorded; retried until it is.
var errStartNotRecorded = errors.New("the subscription's start is not recorded yet")

// cardDetached: a card was removed at the provider; the ledger stops
// listing it.
func (r *Reconciler) cardDetached(ctx context.Context, n news) error {
	if n.UserID == "" {
		return nil
	}
	return app.DecideWallet(ctx, r.cfg.Log, n.UserID, n.meta, func(w *domain.Wallet) ([]domain.Event, error) {
		return w.DetachedByProvider(n.ProviderPaymentMethodID, n.now)
	})
}

// decideOrder decides on the order the news names; an id that is not one
// of this ledger's orders is news of something else.
func (r *Reconciler) decideOrder(ctx context.Context, n news, decide func(*domain.Order) ([]domain.Event, error)) error {
	id, err := domain.ParseOrderID(n.OrderID)
	if err != nil {
		return nil
	}
	_, err = app.Orders(r.cfg.Log).Decide(ctx, id, n.meta, decide)
	r.cfg.Observe("provider_event", outcome(err))
	return err
}

// decideSubscription is decideOrder for the subscription the news names.
func (r *Reconciler) decideSubscription(ctx context.Context, n news, decide func(*domain.Subscription) ([]domain.Event, error)) error {
	id, err := domain.ParseSubscriptionID(n.SubscriptionID)
	if err != nil {
		return nil
	}
	_, err = app.Subscriptions(r.cfg.Log).Decide(ctx, id, n.meta, decide)
	return err
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "recorded"
}
