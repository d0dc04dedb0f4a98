package stripe

import (
	"context"
	"time"

	"github.com/robotlabor/billing/payments"
	stripego "github.com/stripe/stripe-go/v76"
)

// KeyLifetime is how long Stripe remembers an idempotency key: a request
// repeated later with the same key is a new request.
func (s *Stripe) KeyLifetime() time.Duration { return 24 * time.Hour }

// lookBack widens a lookup's time filter against clock skew between the
// ledger's machines and Stripe's.
const lookBack = time.Hour

// FindCharge finds the PaymentIntent made for an order among the
// customer's (tagged metadata.order_id by Charge). Lists are consistent
// at Stripe; search is not, so a lookup never misses a recent one.
func (s *Stripe) FindCharge(ctx context.Context, f payments.FindPayment) (payments.ChargeResult, bool, error) {
	p := &stripego.PaymentIntentListParams{
		ListParams:   stripego.ListParams{Context: ctx},
		Customer:     stripego.String(f.CustomerID),
		CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: f.Since.Add(-lookBack).Unix()},
	}
	it := s.api.PaymentIntents.List(p)
	for it.Next() {
		if pi := it.PaymentIntent(); pi.Metadata["order_id"] == f.OrderID {
			res, err := s.settle(ctx, pi, "")
			return res, true, err
		}
	}
	if err := it.Err(); err != nil {
		return payments.ChargeResult{}, false, fail("list payment intents", err)
	}
	return payments.ChargeResult{}, false, nil
}

// FindSubscription finds the subscription started for an order among the
// customer's, canceled ones included (tagged metadata.subscription_id by
// StartSubscription). With error_if_incomplete a declined start leaves no
// subscription behind: not found.
func (s *Stripe) FindSubscription(ctx context.Context, f payments.FindPayment) (payments.SubscriptionResult, bool, error) {
	p := &stripego.SubscriptionListParams{
		ListParams:   stripego.ListParams{Context: ctx},
		Customer:     stripego.String(f.CustomerID),
		Status:       stripego.String("all"),
		CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: f.Since.Add(-lookBack).Unix()},
	}
	p.AddExpand("data.latest_invoice.payment_intent")
	it := s.api.Subscriptions.List(p)
	for it.Next() {
		if sub := it.Subscription(); sub.Metadata["subscription_id"] == f.SubscriptionID {
			return subscriptionResult(sub), true, nil
		}
	}
	if err := it.Err(); err != nil {
		return payments.SubscriptionResult{}, false, fail("list subscriptions", err)
	}
	return payments.SubscriptionResult{}, false, nil
}

// FindRefund finds a refund of the payment that took effect or may still:
// a succeeded one first, else a pending one. Refunds are of the full
// amount, so any such refund is the order's.
func (s *Stripe) FindRefund(ctx context.Context, f payments.FindRefund) (payments.RefundResult, bool, error) {
	it := s.api.Refunds.List(&stripego.RefundListParams{ListParams: stripego.ListParams{Context: ctx}, PaymentIntent: stripego.String(f.ProviderPaymentID)})
	var pending *payments.RefundResult
	for it.Next() {
		switch res := refundResult(it.Refund()); res.Status {
		case payments.Succeeded:
			return res, true, nil
		case payments.Pending:
			pending = &res
		}
	}
	if err := it.Err(); err != nil {
		return payments.RefundResult{}, false, fail("list refunds", err)
	}
	if pending != nil {
		return *pending, true, nil
	}
	return payments.RefundResult{}, false, nil
}
