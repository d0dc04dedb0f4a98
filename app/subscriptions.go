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
	meta.UserID = userID
	now := s.Log.Now()
	_, res, err := Update(ctx, s.Log, id.Stream(), func() *domain.Subscription { return &domain.Subscription{} },
		func(sub *domain.Subscription) ([]domain.Event, error) {
			if sub.ID == "" || sub.UserID != userID {
				return nil, ErrNotFound
			}
			return sub.RequestCancel(domain.ReasonCustomerRequest, now)
		}, meta)
	return res.Position, err
}
