package stripe_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/payments/stripe/stripetest"
)

// TestLookupsAskForTheCustomersObjects: past an idempotency key's life the
// reconciler finds an order's payment by listing the customer's objects
// (which stripe-mock validates against Stripe's API) and matching the
// order's metadata; another order's objects are not it.
func TestLookupsAskForTheCustomersObjects(t *testing.T) {
	ctx := context.Background()
	s, p := provider(t)
	since := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := payments.FindPayment{CustomerID: "cus_1", OrderID: "ord_1", SubscriptionID: "sub_1", Since: since}

	if _, found, err := s.FindCharge(ctx, q); err != nil || found {
		t.Fatalf("FindCharge of an order Stripe has no PaymentIntent for = found %v, %v", found, err)
	}
	req := lastRequest(t, p, "/v1/payment_intents")
	if req.Method != http.MethodGet || req.Form.Get("customer") != "cus_1" ||
		req.Form.Get("created[gte]") != strconv.FormatInt(since.Add(-time.Hour).Unix(), 10) {
		t.Fatalf("payment intents listed with %v", req.Form)
	}
	if _, found, err := s.FindSubscription(ctx, q); err != nil || found {
		t.Fatalf("FindSubscription of an order Stripe has no subscription for = found %v, %v", found, err)
	}
	req = lastRequest(t, p, "/v1/subscriptions")
	if req.Form.Get("customer") != "cus_1" || req.Form.Get("status") != "all" {
		t.Fatalf("subscriptions listed with %v", req.Form)
	}
	res, found, err := s.FindRefund(ctx, payments.FindRefund{ProviderPaymentID: "pi_1", OrderID: "ord_1"})
	if err != nil || !found || res.Status != payments.Succeeded || res.ProviderRefundID == "" {
		t.Fatalf("FindRefund = %+v, found %v, %v; want stripe-mock's succeeded refund", res, found, err)
	}
	if req := lastRequest(t, p, "/v1/refunds"); req.Form.Get("payment_intent") != "pi_1" {
		t.Fatalf("refunds listed with %v", req.Form)
	}

	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/payment_intents" {
			return false
		}
		stripetest.StripeError(w, http.StatusOK, `{"object": "list", "url": "/v1/payment_intents", "has_more": false, "data": [
			{"id": "pi_other", "object": "payment_intent", "status": "succeeded", "metadata": {"order_id": "ord_2"}},
			{"id": "pi_mine", "object": "payment_intent", "status": "requires_payment_method", "metadata": {"order_id": "ord_1"},
			 "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "no"}}]}`)
		return true
	})
	charge, found, err := s.FindCharge(ctx, q)
	if err != nil || !found || charge.ProviderPaymentID != "pi_mine" || charge.Status != payments.Failed || charge.FailureCode != payments.CodeInsufficientFunds {
		t.Fatalf("FindCharge = %+v, found %v, %v; want the order's declined PaymentIntent", charge, found, err)
	}
}
