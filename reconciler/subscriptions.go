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
	var sub domain.Subscription
	if _, err := r.cfg.Log.Load(ctx, e.SubscriptionID.Stream(), &sub); err != nil {
		return err
	}
	if sub.ProviderCanceled {
		return nil
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
	now := r.now()
	_, _, err := app.Update(ctx, r.cfg.Log, e.SubscriptionID.Stream(), func() *domain.Subscription { return &domain.Subscription{} },
		func(s *domain.Subscription) ([]domain.Event, error) { return s.ConfirmCanceled(e.Reason, now) }, meta)
	return err
}
