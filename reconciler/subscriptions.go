package reconciler

import (
	"context"
	"errors"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// cancelRequested ends the subscription at the provider (if it was ever
// started there) and records that it ended.
func (r *Reconciler) cancelRequested(ctx context.Context, rec eventstore.RecordedEvent, e domain.SubscriptionCancelRequested, meta app.Metadata) error {
	subs := app.Subscriptions(r.cfg.Log)
	sub, err := subs.Load(ctx, e.SubscriptionID)
	if err != nil || sub.ProviderCanceled {
		return err
	}
	if sub.ProviderSubscriptionID != "" {
		err := r.cfg.Provider.CancelSubscription(ctx, payments.CancelSubscription{
			ProviderSubscriptionID: sub.ProviderSubscriptionID, IdempotencyKey: CancelKey(rec.ID),
		})
		if err != nil && !errors.Is(err, payments.ErrNotFound) {
			return err
		}
		r.cfg.Observe("subscription_cancel", "succeeded")
	}
	now, err := r.cfg.Log.UserNow(ctx, e.UserID)
	if err != nil {
		return err
	}
	_, err = subs.Decide(ctx, e.SubscriptionID, meta, func(s *domain.Subscription) ([]domain.Event, error) { return s.ConfirmCanceled(e.Reason, now) })
	if err != nil || sub.Renewing == "" {
		return err
	}
	// A renewal still unpaid (past_due) is not retried any more: its order
	// fails, uncharged. Should an attempt in flight pay it after all, the
	// payment is recorded and refunded (see renewalDue).
	_, err = app.Orders(r.cfg.Log).Decide(ctx, sub.Renewing, meta, func(o *domain.Order) ([]domain.Event, error) {
		return o.SettlePayment(domain.Payment{FailureCode: domain.FailureSubscriptionCanceled, FailureMessage: failureMessages[domain.FailureSubscriptionCanceled]}, now)
	})
	return err
}
