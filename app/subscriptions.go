package app

import (
	"context"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// CancelSubscription cancels the user's subscription at once. Canceling a
// canceled subscription changes nothing; the position is then the
// subscription's last event, for read-your-writes all the same. It returns
// ErrNotFound for a subscription that is not the user's.
func (s *Service) CancelSubscription(ctx context.Context, userID string, id domain.SubscriptionID, meta Metadata) (eventstore.Position, error) {
	now, err := s.Log.UserNow(ctx, userID)
	if err != nil {
		return 0, err
	}
	res, err := Subscriptions(s.Log).DecideOwned(ctx, userID, id, meta, func(sub *domain.Subscription) ([]domain.Event, error) {
		return sub.RequestCancel(domain.ReasonCustomerRequest, now)
	})
	return res.Position, err
}
