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

// TestPaymentsThatRequireActionAreCanceled: an off-session payment that
// asks for authentication is declined in the ledger and canceled at
// Stripe, so the customer completing it later cannot take the money; one
// that succeeded before the cancellation is a success.
func TestPaymentsThatRequireActionAreCanceled(t *testing.T) {
	for _, authenticated := range []bool{false, true} {
		s, p := provider(t)
		p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
				stripetest.StripeError(w, http.StatusOK, `{"id":"pi_3ds","object":"payment_intent","status":"requires_action"}`)
			case r.URL.Path == "/v1/payment_intents/pi_3ds/cancel" && authenticated:
				stripetest.StripeError(w, http.StatusBadRequest, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"status of succeeded"}}`)
			case r.URL.Path == "/v1/payment_intents/pi_3ds/cancel":
				stripetest.StripeError(w, http.StatusOK, `{"id":"pi_3ds","object":"payment_intent","status":"canceled"}`)
			case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents/pi_3ds":
				stripetest.StripeError(w, http.StatusOK, `{"id":"pi_3ds","object":"payment_intent","status":"succeeded"}`)
			default:
				return false
			}
			return true
		})
		res, err := s.Charge(context.Background(), payments.Charge{CustomerID: "cus_1", PaymentMethodID: "pm_1", Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: "order_evt"})
		if err != nil {
			t.Fatal(err)
		}
		if cancel := lastRequest(t, p, "/v1/payment_intents/pi_3ds/cancel"); cancel.IdempotencyKey != "cancel_order_evt" {
			t.Fatalf("cancel sent with key %q", cancel.IdempotencyKey)
		}
		want := payments.ChargeResult{Status: payments.Failed, ProviderPaymentID: "pi_3ds", FailureCode: "authentication_required"}
		if authenticated {
			want = payments.ChargeResult{Status: payments.Succeeded, ProviderPaymentID: "pi_3ds"}
		}
		if res.Status != want.Status || res.ProviderPaymentID != want.ProviderPaymentID || res.FailureCode != want.FailureCode {
			t.Fatalf("authenticated before the cancel %v: charge = %+v, want %+v", authenticated, res, want)
		}
	}
}
