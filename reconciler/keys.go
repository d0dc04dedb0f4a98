package reconciler

import (
	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
)

// The idempotency keys of the provider calls, each derived from the event
// that causes the call, so that handling the event again repeats the call
// and the provider acts once. They are part of the log's story (billing
// history shows them): never change one.

// PaymentKey: the charge (or the subscription's start) for an order.placed.
func PaymentKey(placed uuid.UUID) string { return "order_" + placed.String() }

// RefundKey: the refund for an order.refund_requested.
func RefundKey(requested uuid.UUID) string { return "refund_" + requested.String() }

// RenewalKey: one attempt to charge a renewal, for a subscription.renewal_due.
func RenewalKey(due uuid.UUID) string { return "renewal_" + due.String() }

// CancelKey: ending a subscription at the provider, for a
// subscription.cancel_requested (or the order.placed of a subscription
// canceled before its first payment settled).
func CancelKey(cause uuid.UUID) string { return "cancel_" + cause.String() }

// UpdateKey: a change of a provider's subscription (card, cancel at period
// end), for the subscription event that asks for it.
func UpdateKey(cause uuid.UUID) string { return "update_" + cause.String() }

// CallKeys returns the keys of the provider calls that the reconciler
// makes for an event of type eventType and id: what `billing history`
// shows of each. (An order.placed whose subscription was canceled before
// its first payment settled also ends it, under CancelKey.)
func CallKeys(eventType string, id uuid.UUID) []string {
	switch eventType {
	case domain.EventOrderPlaced:
		return []string{PaymentKey(id)}
	case domain.EventRefundRequested:
		return []string{RefundKey(id)}
	case domain.EventSubscriptionRenewalDue:
		return []string{RenewalKey(id)}
	case domain.EventSubscriptionCancelRequested:
		return []string{CancelKey(id)}
	case domain.EventSubscriptionCardChanged, domain.EventCancelScheduled, domain.EventCancelUnscheduled:
		return []string{UpdateKey(id)} // with a provider that keeps subscriptions (Stripe)
	}
	return nil
}
