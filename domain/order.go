package domain

import (
	"time"
)

// OrderStatus is where an order is in its life.
type OrderStatus string

// Order states. pending → paid | failed; paid → refund_pending → refunded, or
// back to paid when the refund fails.
const (
	OrderStatusPending       OrderStatus = "pending"
	OrderStatusPaid          OrderStatus = "paid"
	OrderStatusFailed        OrderStatus = "failed"
	OrderStatusRefundPending OrderStatus = "refund_pending"
	OrderStatusRefunded      OrderStatus = "refunded"
)

// Failure codes the ledger decides without the provider's answer to a
// call, because none was made: if a call made earlier (an answer lost, an
// instance racing) turns out to have paid after all, the provider's
// success is still recorded (Pay), and the money then explained.
const (
	// FailurePaymentExpired: no payment reached the provider while the
	// order's idempotency key lived (24 hours at Stripe); none is made so
	// late.
	FailurePaymentExpired = "payment_expired"
	// FailureSubscriptionCanceled: the subscription was canceled before
	// its first payment was made; it is not made.
	FailureSubscriptionCanceled = "subscription_canceled"
)

// decidedByLedger reports a failure no provider answered.
func decidedByLedger(code string) bool {
	return code == FailurePaymentExpired || code == FailureSubscriptionCanceled
}

// Order is the aggregate of one purchase, in the stream "order-<uuid>": one
// charge of Money on a saved card, and at most one full refund.
type Order struct {
	ID                OrderID
	UserID            string
	PlanID            PlanID
	Money             Money
	PaymentMethodID   PaymentMethodID
	SubscriptionID    SubscriptionID // empty unless the plan is recurring
	Renewal           bool           // pays a subscription's later period
	Status            OrderStatus
	FailureCode       string
	FailureMessage    string
	ProviderPaymentID string
	PaidAt            time.Time
	RefundID          RefundID
	ProviderRefundID  string
	RefundFailureCode string // of the last failed refund attempt
	RefundedAt        time.Time
	CreatedAt         time.Time
	IdempotencyKey    string
	Fingerprint       string
	FailedAttempts    int // a renewal's declined attempts while retries follow
}

// Apply folds one order event into o. Events of other aggregates are ignored.
func (o *Order) Apply(e Event) {
	switch e := e.(type) {
	case OrderPlaced:
		*o = Order{
			ID: e.OrderID, UserID: e.UserID, PlanID: e.PlanID,
			Money:           Money{Amount: e.Amount, Currency: e.Currency},
			PaymentMethodID: e.PaymentMethodID, SubscriptionID: e.SubscriptionID, Renewal: e.Renewal,
			Status: OrderStatusPending, CreatedAt: e.PlacedAt,
			IdempotencyKey: e.IdempotencyKey, Fingerprint: e.Fingerprint,
		}
	case OrderPaid:
		o.Status, o.ProviderPaymentID, o.PaidAt = OrderStatusPaid, e.ProviderPaymentID, e.PaidAt
		o.FailureCode, o.FailureMessage = "", ""
	case OrderPaymentFailed:
		o.Status, o.FailureCode, o.FailureMessage = OrderStatusFailed, e.FailureCode, e.FailureMessage
	case PaymentAttemptFailed:
		o.FailureCode, o.FailureMessage, o.FailedAttempts = e.FailureCode, e.FailureMessage, max(o.FailedAttempts, e.Attempt)
	case RefundRequested:
		o.Status, o.RefundID = OrderStatusRefundPending, e.RefundID
	case OrderRefunded:
		o.Status, o.ProviderRefundID, o.RefundedAt = OrderStatusRefunded, e.ProviderRefundID, e.RefundedAt
	case RefundFailed:
		o.Status, o.RefundFailureCode = OrderStatusPaid, e.FailureCode
	}
}

// IsRefundable reports whether a refund may be requested: the order is paid
// and no refund is pending or done. There is no refund window.
func (o *Order) IsRefundable() bool { return o.Status == OrderStatusPaid }

// Pay records that the provider charged the order. It returns no events when
// the order is already recorded paid by the same provider payment (a replayed
// outcome, including after a refund was requested), and ErrInvalidTransition
// when the order was never placed, was declined by the provider, or was paid
// by another payment. An order the ledger failed without a provider's answer
// (decidedByLedger) is paid all the same: the provider's word wins.
func (o *Order) Pay(providerPaymentID string, now time.Time) ([]Event, error) {
	if providerPaymentID == "" {
		return nil, Invalid("provider_payment_id", "provider_payment_id is required")
	}
	switch {
	case o.Status == OrderStatusPending, o.Status == OrderStatusFailed && decidedByLedger(o.FailureCode):
		return []Event{OrderPaid{OrderRef: o.ref(), ProviderPaymentID: providerPaymentID, PaidAt: now.UTC()}}, nil
	case o.Status == OrderStatusPaid, o.Status == OrderStatusRefundPending, o.Status == OrderStatusRefunded:
		if o.ProviderPaymentID != providerPaymentID {
			return nil, o.contradiction("paid by %s, not %s", o.ProviderPaymentID, providerPaymentID)
		}
		return nil, nil
	}
	return nil, o.contradiction("cannot be paid")
}

// FailPayment records that the provider refused the charge. It returns no
// events when the order is already failed, ErrValidation for an empty code,
// and ErrInvalidTransition when the order was never placed or is paid.
func (o *Order) FailPayment(code, message string, now time.Time) ([]Event, error) {
	if code == "" {
		return nil, Invalid("failure_code", "failure_code is required")
	}
	switch o.Status {
	case OrderStatusPending:
		return []Event{OrderPaymentFailed{OrderRef: o.ref(), FailureCode: code, FailureMessage: message, FailedAt: now.UTC()}}, nil
	case OrderStatusFailed:
		return nil, nil
	}
	return nil, o.contradiction("cannot fail its payment")
}

// RequestRefund asks for a full refund of a paid order. It returns
// ErrOrderNotRefundable unless the order is paid with no refund pending or
// done (pending, failed, refund_pending, refunded, never placed).
func (o *Order) RequestRefund(now time.Time) ([]Event, error) {
	if !o.IsRefundable() {
		return nil, refuse(ErrOrderNotRefundable, "", "order %s is %s and cannot be refunded", o.ID, o.statusOrNone())
	}
	return []Event{RefundRequested{OrderRef: o.ref(), RefundID: RefundIDFor(o.ID), RequestedAt: now.UTC()}}, nil
}

// CompleteRefund records that the provider refunded the order. It returns no
// events when the order is already refunded, ErrValidation for an empty
// provider refund id, and ErrInvalidTransition when no refund is pending.
func (o *Order) CompleteRefund(providerRefundID string, now time.Time) ([]Event, error) {
	if providerRefundID == "" {
		return nil, Invalid("provider_refund_id", "provider_refund_id is required")
	}
	switch o.Status {
	case OrderStatusRefundPending:
		return []Event{OrderRefunded{
			OrderRef: o.ref(), RefundID: o.RefundID, ProviderRefundID: providerRefundID, RefundedAt: now.UTC(),
		}}, nil
	case OrderStatusRefunded:
		return nil, nil
	}
	return nil, o.contradiction("has no refund pending")
}

// FailRefund records that the provider refused the refund; the order is paid
// and refundable again. It returns no events when the last refund attempt is
// already recorded failed, ErrValidation for an empty code, and
// ErrInvalidTransition when no refund was requested or the order is refunded.
func (o *Order) FailRefund(code string, now time.Time) ([]Event, error) {
	if code == "" {
		return nil, Invalid("failure_code", "failure_code is required")
	}
	switch {
	case o.Status == OrderStatusRefundPending:
		return []Event{RefundFailed{OrderRef: o.ref(), RefundID: o.RefundID, FailureCode: code, FailedAt: now.UTC()}}, nil
	case o.Status == OrderStatusPaid && o.RefundFailureCode != "":
		return nil, nil
	}
	return nil, o.contradiction("has no refund pending")
}

func (o *Order) ref() OrderRef {
	return OrderRef{OrderID: o.ID, UserID: o.UserID, PlanID: o.PlanID, Amount: o.Money.Amount, Currency: o.Money.Currency}
}

func (o *Order) statusOrNone() string {
	if o.Status == "" {
		return "not placed"
	}
	return string(o.Status)
}

func (o *Order) contradiction(format string, args ...any) error {
	prefix := "order " + string(o.ID) + " (" + o.statusOrNone() + ") "
	return refuse(ErrInvalidTransition, "", prefix+format, args...)
}

// RefundedByProvider records a full refund the provider reports, whether
// the ledger asked for it (refund_pending: order.refunded) or not (a refund
// made in the provider's dashboard, on a paid order: the request and its
// completion are both recorded, so the log explains the money). It returns
// no events when the order is already refunded, ErrValidation for an empty
// provider refund id, and ErrInvalidTransition when the order was never
// paid.
func (o *Order) RefundedByProvider(providerRefundID string, now time.Time) ([]Event, error) {
	if providerRefundID == "" {
		return nil, Invalid("provider_refund_id", "provider_refund_id is required")
	}
	switch o.Status {
	case OrderStatusRefundPending:
		return o.CompleteRefund(providerRefundID, now)
	case OrderStatusRefunded:
		return nil, nil
	case OrderStatusPaid:
		now = now.UTC()
		requested := RefundRequested{OrderRef: o.ref(), RefundID: RefundIDFor(o.ID), RequestedAt: now}
		return []Event{requested, OrderRefunded{
			OrderRef: o.ref(), RefundID: requested.RefundID, ProviderRefundID: providerRefundID, RefundedAt: now,
		}}, nil
	}
	return nil, o.contradiction("was never paid, so cannot be refunded")
}
