package domain

import "time"

// Decisions on what a payment provider answered, or reported by itself.
// Each returns no events when the outcome is superseded (the ledger already
// moved past the state it would change), so that a late, repeated or
// racing answer changes nothing; callers decide through them and never
// test a status themselves.

// Payment is a provider's definite answer to a charge.
type Payment struct {
	Succeeded         bool
	ProviderPaymentID string // may be empty for a failure
	FailureCode       string // when not Succeeded
	FailureMessage    string
}

// RefundOutcome is a provider's definite answer to a refund.
type RefundOutcome struct {
	Succeeded        bool
	ProviderRefundID string
	FailureCode      string // when not Succeeded
}

// AwaitsPayment reports an order whose charge has no outcome yet.
func (o *Order) AwaitsPayment() bool { return o.Status == OrderStatusPending }

// AwaitsRefund reports an order whose requested refund has no outcome yet.
func (o *Order) AwaitsRefund() bool { return o.Status == OrderStatusRefundPending }

// SettlePayment records the provider's answer to the order's charge: a
// success pays it (Pay: also an order the ledger failed on its own, the
// provider's word wins); a failure fails it while pending, and changes
// nothing once it settled otherwise. ErrInvalidTransition for an order
// never placed, or paid by another payment.
func (o *Order) SettlePayment(p Payment, now time.Time) ([]Event, error) {
	if p.Succeeded {
		return o.Pay(p.ProviderPaymentID, now)
	}
	if o.Status != OrderStatusPending && o.Status != "" {
		return nil, nil
	}
	return o.FailPayment(p.FailureCode, p.FailureMessage, now)
}

// SettleRenewalAttempt records the answer to one attempt of a due
// renewal on its order: paid (Pay); declined, the order stays pending with
// the decline as its failure code while retries follow, and fails with the
// Final attempt. It returns no events once the order settled or this
// attempt's decline is recorded.
func (o *Order) SettleRenewalAttempt(due SubscriptionRenewalDue, p Payment, now time.Time) ([]Event, error) {
	switch {
	case p.Succeeded:
		return o.Pay(p.ProviderPaymentID, now)
	case o.Status != OrderStatusPending || o.FailedAttempts >= due.Attempt:
		return nil, nil
	case p.FailureCode == "":
		return nil, Invalid("failure_code", "failure_code is required")
	case due.Final:
		return o.FailPayment(p.FailureCode, p.FailureMessage, now)
	}
	return []Event{PaymentAttemptFailed{OrderRef: o.ref(), Attempt: due.Attempt, FailureCode: p.FailureCode,
		FailureMessage: p.FailureMessage, FailedAt: now.UTC()}}, nil
}

// SettleRefund records the provider's answer to the order's pending
// refund (CompleteRefund or FailRefund); nothing when no refund is pending.
func (o *Order) SettleRefund(r RefundOutcome, now time.Time) ([]Event, error) {
	if o.Status != OrderStatusRefundPending {
		return nil, nil
	}
	if r.Succeeded {
		return o.CompleteRefund(r.ProviderRefundID, now)
	}
	if r.FailureCode == "" {
		r.FailureCode = "refund_failed"
	}
	return o.FailRefund(r.FailureCode, now)
}

// RefundIfPaid requests the refund of a paid order whose money must go
// back (its subscription ended before it started, or before the period it
// paid); nothing when it is not paid.
func (o *Order) RefundIfPaid(now time.Time) ([]Event, error) {
	if !o.IsRefundable() {
		return nil, nil
	}
	return o.RequestRefund(now)
}

// NewSubscriptionCreated is the subscription.created that placing order
// placed on the recurring plan decides: the one constructor of both the
// command (PlaceOrder) and the reconciler, which appends it again should
// the placing process have stopped before writing it.
func NewSubscriptionCreated(placed OrderPlaced, plan Plan) SubscriptionCreated {
	return SubscriptionCreated{
		SubscriptionRef: SubscriptionRef{SubscriptionID: placed.SubscriptionID, UserID: placed.UserID, PlanID: plan.ID, OrderID: placed.OrderID},
		Interval:        plan.Interval, IntervalCount: plan.IntervalCount,
		Amount: placed.Amount, Currency: placed.Currency, PaymentMethodID: placed.PaymentMethodID, CreatedAt: placed.PlacedAt,
	}
}

// AwaitsStart reports a subscription whose first payment has no outcome
// yet (incomplete).
func (s *Subscription) AwaitsStart() bool { return s.Status == SubscriptionStatusIncomplete }

// Ended reports a canceled subscription.
func (s *Subscription) Ended() bool { return s.Status == SubscriptionStatusCanceled }

// Live reports a subscription that is billed (active or past_due).
func (s *Subscription) Live() bool {
	return s.Status == SubscriptionStatusActive || s.Status == SubscriptionStatusPastDue
}

// CanceledBeforeStart reports a subscription canceled before its first
// payment started it: nothing of it may run at the provider.
func (s *Subscription) CanceledBeforeStart() bool {
	return s.Status == SubscriptionStatusCanceled && s.CurrentPeriodStart.IsZero()
}

// SettleFirstPayment records the answer to the first order's charge: a
// success starts s (Start), a failure ends it (ReasonFirstPaymentFailed);
// nothing once it was canceled, which decides instead.
func (s *Subscription) SettleFirstPayment(p Payment, periodStart time.Time, providerSubscriptionID string, now time.Time) ([]Event, error) {
	if s.Status == SubscriptionStatusCanceled {
		return nil, nil
	}
	if p.Succeeded {
		return s.Start(periodStart, providerSubscriptionID, now)
	}
	return s.ConfirmCanceled(ReasonFirstPaymentFailed, now)
}

// RenewalFailed records that the provider could not charge a renewal
// (MarkPastDue); nothing once s is canceled.
func (s *Subscription) RenewalFailed(code string, now time.Time) ([]Event, error) {
	if s.Status == SubscriptionStatusCanceled {
		return nil, nil
	}
	return s.MarkPastDue(code, now)
}

// EndedByProvider records that the provider ended s by itself (in its
// dashboard; ReasonPaymentFailed after its failed renewals): the
// cancellation and its confirmation at once; nothing when that is
// recorded already.
func (s *Subscription) EndedByProvider(reason string, now time.Time) ([]Event, error) {
	requested, err := s.RequestCancel(reason, now)
	if err != nil {
		return nil, err
	}
	after := *s
	for _, e := range requested {
		after.Apply(e)
	}
	confirmed, err := after.ConfirmCanceled(reason, now)
	return append(requested, confirmed...), err
}
