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
			ProviderSubscriptionID: sub.ProviderSubscriptionID, IdempotencyKey: "cancel_" + rec.ID.String(),
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
	return err
}
