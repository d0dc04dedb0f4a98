package reconciler

import (
	"context"
	"time"

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
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) { return o.RefundedByProvider(n.ProviderRefundID, now) })
	case payments.NoticeRefundFailed:
		return r.updateOrder(ctx, n.OrderID, meta, func(o *domain.Order) ([]domain.Event, error) {
			if o.Status != domain.OrderStatusRefundPending {
				return nil, nil
			}
			return o.FailRefund(failureCode(n.FailureCode), now)
		})
	case payments.NoticeSubscriptionEnded:
		return r.subscriptionEnded(ctx, n.SubscriptionID, meta, now)
	}
	return nil
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
