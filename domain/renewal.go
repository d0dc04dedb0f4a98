package domain

import "time"

// DueRenewal decides whether the ledger must charge a renewal of s at now,
// for a subscription whose provider does not bill by itself: attempt 1 of
// the period starting at CurrentPeriodEnd once that time has come, and
// after a declined attempt the next one, each schedule[i] after the period
// end (the dunning schedule); the attempt after the last retry is Final.
// It returns no events when nothing is due yet, an attempt is in flight,
// or s is not billed (incomplete, canceled, or never created).
func (s *Subscription) DueRenewal(now time.Time, schedule []time.Duration) ([]Event, error) {
	due, attempt, ok := s.NextCharge(schedule)
	switch {
	case !ok || now.Before(due):
		return nil, nil
	case attempt == 0:
		// Canceled at the period's end, as the user asked: not renewed.
		return s.RequestCancel(ReasonCustomerRequest, due)
	}
	return []Event{SubscriptionRenewalDue{
		SubscriptionRef: s.ref(), RenewalOrderID: RenewalOrderIDFor(s.ID, s.CurrentPeriodEnd), PeriodStart: s.CurrentPeriodEnd,
		Attempt: attempt, Final: attempt == len(schedule)+1, DueAt: due.UTC(),
	}}, nil
}

// NextCharge is when the ledger's next charge of s falls due on schedule,
// and which attempt it is (see DueRenewal); attempt 0 is the end of a
// subscription canceled at its period's end instead. ok is false when
// nothing will fall due (s is not billed, an attempt is in flight, or the
// last was made).
func (s *Subscription) NextCharge(schedule []time.Duration) (due time.Time, attempt int, ok bool) {
	switch {
	case !s.Live() || s.CurrentPeriodEnd.IsZero():
		return time.Time{}, 0, false
	case s.ChargeInFlight():
		return time.Time{}, 0, false
	case s.CancelAtPeriodEnd:
		return s.CurrentPeriodEnd, 0, true
	case s.Renewing == "":
		return s.CurrentPeriodEnd, 1, true
	case s.Attempt > len(schedule):
		return time.Time{}, 0, false // the last attempt was made
	}
	attempt = s.Attempt + 1
	if !s.RetryAt.IsZero() {
		return s.RetryAt, attempt, true // on schedule, or at once with a new card
	}
	return s.CurrentPeriodEnd.Add(schedule[attempt-2]), attempt, true
}

// ChargeInFlight reports an attempt of the ledger's renewal whose outcome
// is not recorded yet.
func (s *Subscription) ChargeInFlight() bool {
	return s.Live() && s.Renewing != "" && s.FailedAttempts < s.Attempt
}

// NextAttempt is when the attempt after the declined one, attempt, is
// due on schedule; zero when that was the last.
func (s *Subscription) NextAttempt(attempt int, schedule []time.Duration) time.Time {
	if attempt > len(schedule) {
		return time.Time{}
	}
	return s.CurrentPeriodEnd.Add(schedule[attempt-1]).UTC()
}

// RenewalOrder is the order a due renewal charges: placed by its first
// attempt, at the period's start (its created_at is the period boundary),
// for the subscription's price on its card. Its id is RenewalOrderIDFor(s,
// period start): one order per period, whoever places it and however often.
func (s *Subscription) RenewalOrder(due SubscriptionRenewalDue) OrderPlaced {
	return s.renewalOrder(due.PeriodStart)
}

// SettleRenewal records on s the answer to an attempt of a due renewal:
// paid, the period moves on (Renew); declined, s becomes past_due with the
// next attempt's time, or after the Final attempt is canceled with
// ReasonPaymentFailed. It returns no events when the answer is already
// recorded or s is no longer billed (the caller refunds a payment taken
// for a subscription canceled meanwhile).
func (s *Subscription) SettleRenewal(due SubscriptionRenewalDue, p Payment, schedule []time.Duration, now time.Time) ([]Event, error) {
	switch {
	case !s.Live():
		return nil, nil
	case p.Succeeded:
		return s.Renew(due.RenewalOrderID, due.PeriodStart, time.Time{}, now)
	case s.Renewing != due.RenewalOrderID || s.FailedAttempts >= due.Attempt:
		return nil, nil // superseded, or recorded
	case due.Final:
		return s.RequestCancel(ReasonPaymentFailed, now)
	}
	if p.FailureCode == "" {
		return nil, Invalid("failure_code", "failure_code is required")
	}
	return []Event{SubscriptionPastDue{SubscriptionRef: s.ref(), FailureCode: p.FailureCode, At: now.UTC(),
		Attempt: due.Attempt, RetryAt: s.NextAttempt(due.Attempt, schedule)}}, nil
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
	placed := s.renewalOrder(s.CurrentPeriodEnd)
	placed.OrderID = InvoiceOrderIDFor(s.ID, c.InvoiceID)
	placed.Amount, placed.Currency = c.Amount, c.Currency
	placed.IdempotencyKey = "invoice:" + string(s.ID) + ":" + c.InvoiceID
	placed.Fingerprint = Fingerprint(string(s.PlanID), string(s.PaymentMethodID), &c.Amount)
	if !c.PeriodStart.IsZero() {
		placed.PlacedAt = c.PeriodStart.UTC()
	} else if placed.PlacedAt.IsZero() {
		placed.PlacedAt = now.UTC()
	}
	return []Event{placed, OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: c.ProviderPaymentID, PaidAt: now.UTC()}}, nil
}

func (s *Subscription) renewalOrder(periodStart time.Time) OrderPlaced {
	key := "renewal:" + string(s.ID) + ":" + periodStart.UTC().Format(time.RFC3339Nano)
	return OrderPlaced{
		OrderRef: OrderRef{
			OrderID: RenewalOrderIDFor(s.ID, periodStart), UserID: s.UserID, PlanID: s.PlanID,
			Amount: s.Price.Amount, Currency: s.Price.Currency,
		},
		PaymentMethodID: s.PaymentMethodID, SubscriptionID: s.ID, Renewal: true,
		IdempotencyKey: key,
		Fingerprint:    Fingerprint(string(s.PlanID), string(s.PaymentMethodID), &s.Price.Amount),
		PlacedAt:       periodStart.UTC(),
	}
}
