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

// SubscriptionChange is what a PATCH of a subscription asks: another saved
// card for its renewals, and/or whether it ends at its period's end; nil
// fields are left as they are.
type SubscriptionChange struct {
	PaymentMethodID   *domain.PaymentMethodID
	CancelAtPeriodEnd *bool
}

// UpdateSubscription applies change to the user's subscription, all of it
// or nothing. It returns ErrNotFound for a subscription that is not the
// user's, domain.ErrSubscriptionCanceled for one that has ended, and
// domain.ErrPaymentMethodNotFound for a card the user has not saved.
func (s *Service) UpdateSubscription(ctx context.Context, userID string, id domain.SubscriptionID, change SubscriptionChange, meta Metadata) (eventstore.Position, error) {
	now, err := s.Log.UserNow(ctx, userID)
	if err != nil {
		return 0, err
	}
	var wallet *domain.Wallet
	if pm := change.PaymentMethodID; pm != nil {
		if wallet, err = s.Log.Wallet(ctx, userID, func(w *domain.Wallet) bool { return w.HasCard(*pm) }); err != nil {
			return 0, err
		}
	}
	res, err := Subscriptions(s.Log).DecideOwned(ctx, userID, id, meta, func(sub *domain.Subscription) ([]domain.Event, error) {
		var decided []domain.Event
		after := *sub
		if pm := change.PaymentMethodID; pm != nil {
			events, err := after.ChangeCard(*pm, wallet, now)
			if err != nil {
				return nil, err
			}
			for _, e := range events {
				after.Apply(e)
			}
			decided = append(decided, events...)
		}
		if at := change.CancelAtPeriodEnd; at != nil {
			decide := after.UnscheduleCancel
			if *at {
				decide = after.ScheduleCancel
			}
			events, err := decide(now)
			if err != nil {
				return nil, err
			}
			decided = append(decided, events...)
		}
		return decided, nil
	})
	return res.Position, err
}

// CancelAtPeriodEnd ends the user's subscription at its period's end
// instead of renewing it (DELETE …?at_period_end=true). A canceled
// subscription is left as it is, as a plain DELETE leaves it.
func (s *Service) CancelAtPeriodEnd(ctx context.Context, userID string, id domain.SubscriptionID, meta Metadata) (eventstore.Position, error) {
	now, err := s.Log.UserNow(ctx, userID)
	if err != nil {
		return 0, err
	}
	res, err := Subscriptions(s.Log).DecideOwned(ctx, userID, id, meta, func(sub *domain.Subscription) ([]domain.Event, error) {
		if sub.Ended() {
			return nil, nil
		}
		return sub.ScheduleCancel(now)
	})
	return res.Position, err
}
