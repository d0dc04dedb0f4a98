package domain

import "time"

// PlaceRenewalOrder decides the order that pays s's next period, the one that
// starts at CurrentPeriodEnd: order.placed with Renewal set, charging the
// subscription's price to its card. The order id is RenewalOrderIDFor(s.ID,
// CurrentPeriodEnd), so a retried or replayed renewal places one order per
// period; the caller appends it to a stream that must not exist yet. When the
// order is paid, Renew(order, CurrentPeriodEnd, …) advances the period; when
// it fails, MarkPastDue.
//
// It returns ErrInvalidTransition unless s is active or past_due.
func (s *Subscription) PlaceRenewalOrder(now time.Time) ([]Event, error) {
	if s.Status != SubscriptionStatusActive && s.Status != SubscriptionStatusPastDue {
		return nil, s.contradiction("cannot renew")
	}
	periodStart := s.CurrentPeriodEnd
	key := "renewal:" + string(s.ID) + ":" + periodStart.UTC().Format(time.RFC3339Nano)
	return []Event{OrderPlaced{
		OrderRef: OrderRef{
			OrderID: RenewalOrderIDFor(s.ID, periodStart), UserID: s.UserID, PlanID: s.PlanID,
			Amount: s.Price.Amount, Currency: s.Price.Currency,
		},
		PaymentMethodID: s.PaymentMethodID, SubscriptionID: s.ID, Renewal: true,
		IdempotencyKey: key,
		Fingerprint:    Fingerprint(string(s.PlanID), string(s.PaymentMethodID), &s.Price.Amount),
		PlacedAt:       now.UTC(),
	}}, nil
}
