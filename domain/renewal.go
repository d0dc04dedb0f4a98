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

// ChargedRenewal is a period a provider charged by itself (a Stripe
// invoice), as it charged it.
type ChargedRenewal struct {
	InvoiceID         string // the provider's invoice: one renewal order each
	ProviderPaymentID string
	Amount            int64 // what was paid, in minor units
	Currency          Currency
	// PeriodStart and PeriodEnd are the period paid for (zero: the one
	// after CurrentPeriodEnd, for one interval).
	PeriodStart, PeriodEnd time.Time
}

// RenewalCharged records a period the provider has already charged: a
// renewal order of what the provider took (its amount and currency, not
// the plan's price, which may have changed there) and its payment,
// whatever s's state, because the money was taken and the ledger must
// explain it. The order id derives from the invoice (InvoiceOrderIDFor), so
// two invoices never share an order and news of one invoice repeated
// places one. The caller renews an active subscription, and refunds the
// order of one that had ended. It returns ErrValidation for a charge
// without invoice, payment, amount or currency, and ErrInvalidTransition
// when s was never created.
func (s *Subscription) RenewalCharged(c ChargedRenewal, now time.Time) ([]Event, error) {
	if s.ID == "" {
		return nil, s.contradiction("was never created")
	}
	switch {
	case c.InvoiceID == "":
		return nil, Invalid("invoice_id", "invoice_id is required")
	case c.ProviderPaymentID == "":
		return nil, Invalid("provider_payment_id", "provider_payment_id is required")
	case c.Amount <= 0:
		return nil, Invalid("amount", "a charged renewal has a positive amount")
	case c.Currency == "":
		return nil, Invalid("currency", "currency is required")
	}
	placed := s.renewalOrder(now)
	placed.OrderID = InvoiceOrderIDFor(s.ID, c.InvoiceID)
	placed.Amount, placed.Currency = c.Amount, c.Currency
	placed.IdempotencyKey = "invoice:" + string(s.ID) + ":" + c.InvoiceID
	placed.Fingerprint = Fingerprint(string(s.PlanID), string(s.PaymentMethodID), &c.Amount)
	if !c.PeriodStart.IsZero() {
		placed.PlacedAt = c.PeriodStart.UTC()
	}
	return []Event{placed, OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: c.ProviderPaymentID, PaidAt: now.UTC()}}, nil
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
