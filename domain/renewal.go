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
	return []Event{s.renewalOrder(now)}, nil
}

// RenewalCharged records a period the provider has already charged: the
// renewal order of PlaceRenewalOrder and its payment, whatever s's state,
// because the money was taken and the ledger must explain it. The caller
// renews an active subscription, and refunds the order of one that had
// ended. It returns ErrInvalidTransition when s was never created.
func (s *Subscription) RenewalCharged(providerPaymentID string, now time.Time) ([]Event, error) {
	if s.ID == "" {
		return nil, s.contradiction("was never created")
	}
	if providerPaymentID == "" {
		return nil, Invalid("provider_payment_id", "provider_payment_id is required")
	}
	placed := s.renewalOrder(now)
	return []Event{placed, OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: providerPaymentID, PaidAt: now.UTC()}}, nil
}

func (s *Subscription) renewalOrder(now time.Time) OrderPlaced {
	periodStart := s.CurrentPeriodEnd
	key := "renewal:" + string(s.ID) + ":" + periodStart.UTC().Format(time.RFC3339Nano)
	return OrderPlaced{
		OrderRef: OrderRef{
			OrderID: RenewalOrderIDFor(s.ID, periodStart), UserID: s.UserID, PlanID: s.PlanID,
			Amount: s.Price.Amount, Currency: s.Price.Currency,
		},
		PaymentMethodID: s.PaymentMethodID, SubscriptionID: s.ID, Renewal: true,
		IdempotencyKey: key,
		Fingerprint:    Fingerprint(string(s.PlanID), string(s.PaymentMethodID), &s.Price.Amount),
		PlacedAt:       now.UTC(),
	}
}
