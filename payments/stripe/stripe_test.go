package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/payments/stripe"
	"github.com/robotlabor/billing/payments/stripe/stripetest"
)

// mockURL is one stripe-mock for the whole package, started by TestMain.
var mockURL string

func TestMain(m *testing.M) {
	url, stop, err := stripetest.StartMock()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mockURL = url
	code := m.Run()
	stop()
	os.Exit(code)
}

// provider returns a Stripe provider talking to stripe-mock through a
// recording proxy.
func provider(t *testing.T) (*stripe.Stripe, *stripetest.Proxy) {
	t.Helper()
	proxy := stripetest.NewProxy(t, mockURL)
	s, err := stripe.New(stripe.Config{SecretKey: "sk_test_123", APIBase: proxy.URL, PublicURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	return s, proxy
}

func lastRequest(t *testing.T, p *stripetest.Proxy, path string) stripetest.Request {
	t.Helper()
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i]
		}
	}
	t.Fatalf("no request to %s", path)
	return stripetest.Request{}
}

func TestCustomersAreCreatedWithTheUserAndTheKey(t *testing.T) {
	s, p := provider(t)
	id, err := s.CreateCustomer(context.Background(), payments.CreateCustomer{UserID: "user_42", IdempotencyKey: "customer_stripe_user_42"})
	if err != nil || !strings.HasPrefix(id, "cus_") {
		t.Fatalf("customer = %q, %v", id, err)
	}
	req := lastRequest(t, p, "/v1/customers")
	if req.IdempotencyKey != "customer_stripe_user_42" || req.Form.Get("metadata[user_id]") != "user_42" {
		t.Fatalf("request = %+v", req)
	}
}

func TestSetupSessionsAreCheckoutInSetupMode(t *testing.T) {
	s, p := provider(t)
	sess, err := s.CreateSetupSession(context.Background(), payments.CreateSetupSession{
		CustomerID: "cus_1", UserID: "user_42", SessionID: "cs_abc", IdempotencyKey: "setup_cs_abc"})
	if err != nil || sess.URL == "" || sess.ProviderSessionID == "" || sess.ExpiresAt.IsZero() {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	req := lastRequest(t, p, "/v1/checkout/sessions")
	f := req.Form
	if f.Get("mode") != "setup" || f.Get("customer") != "cus_1" || f.Get("client_reference_id") != "cs_abc" ||
		f.Get("metadata[session_id]") != "cs_abc" || f.Get("metadata[user_id]") != "user_42" ||
		!strings.HasPrefix(f.Get("success_url"), "http://127.0.0.1:8080/") || req.IdempotencyKey != "setup_cs_abc" {
		t.Fatalf("checkout session request = %v (key %q)", f, req.IdempotencyKey)
	}
	if _, err := s.CreateSetupSession(context.Background(), payments.CreateSetupSession{
		CustomerID: "cus_1", UserID: "u", SessionID: "cs_x", ReturnURL: "https://app.example/cards", IdempotencyKey: "k"}); err != nil {
		t.Fatal(err)
	}
	if got := lastRequest(t, p, "/v1/checkout/sessions").Form.Get("success_url"); got != "https://app.example/cards" {
		t.Fatalf("success_url = %q, want the return_url", got)
	}
}

func TestChargesAreOffSessionPaymentIntents(t *testing.T) {
	s, p := provider(t)
	res, err := s.Charge(context.Background(), payments.Charge{CustomerID: "cus_1", PaymentMethodID: "pm_1", Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: "order_evt1"})
	if err != nil {
		t.Fatal(err)
	}
	// stripe-mock's fixture answers requires_payment_method: a decline.
	if res.Status != payments.Failed || res.FailureCode != payments.CodeCardDeclined || !strings.HasPrefix(res.ProviderPaymentID, "pi_") {
		t.Fatalf("charge = %+v", res)
	}
	f := lastRequest(t, p, "/v1/payment_intents")
	if f.IdempotencyKey != "order_evt1" || f.Form.Get("off_session") != "true" || f.Form.Get("confirm") != "true" ||
		f.Form.Get("amount") != "4900" || f.Form.Get("metadata[order_id]") != "ord_1" {
		t.Fatalf("payment intent request = %+v", f)
	}
}

func TestCardErrorsAreDeclines(t *testing.T) {
	s, p := provider(t)
	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		stripetest.StripeError(w, http.StatusPaymentRequired, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_declined","object":"payment_intent"}}}`)
		return true
	})
	res, err := s.Charge(context.Background(), payments.Charge{CustomerID: "cus_1", PaymentMethodID: "pm_1", Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: "k"})
	if err != nil || res.Status != payments.Failed || res.FailureCode != payments.CodeInsufficientFunds || res.ProviderPaymentID != "pi_declined" {
		t.Fatalf("declined charge = %+v, %v", res, err)
	}
}

// TestServerErrorsAreUnknownOutcomes: a 500 is neither a decline nor a
// refusal: the outcome is unknown, so the caller retries with the same key
// (every request of the call carried it).
func TestServerErrorsAreUnknownOutcomes(t *testing.T) {
	s, p := provider(t)
	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		stripetest.StripeError(w, http.StatusInternalServerError, `{"error":{"type":"api_error","message":"boom"}}`)
		return true
	})
	_, err := s.Charge(context.Background(), payments.Charge{CustomerID: "cus_1", PaymentMethodID: "pm_1", Amount: 100, Currency: "usd", OrderID: "ord_1", IdempotencyKey: "order_once"})
	if err == nil || errors.Is(err, payments.ErrInvalidRequest) {
		t.Fatalf("a 500 gave %v, want an unknown-outcome error", err)
	}
	keys := map[string]int{}
	for _, r := range p.Requests() {
		keys[r.IdempotencyKey]++
	}
	if len(keys) != 1 || keys["order_once"] < 1 {
		t.Fatalf("requests by key = %v, want every try with order_once", keys)
	}
}

func TestInvalidRequestsAreDefinite(t *testing.T) {
	s, p := provider(t)
	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		stripetest.StripeError(w, http.StatusBadRequest, `{"error":{"type":"invalid_request_error","message":"No such customer"}}`)
		return true
	})
	_, err := s.Charge(context.Background(), payments.Charge{CustomerID: "cus_x", PaymentMethodID: "pm_1", Amount: 100, Currency: "usd", IdempotencyKey: "k"})
	if !errors.Is(err, payments.ErrInvalidRequest) {
		t.Fatalf("a 400 gave %v, want ErrInvalidRequest", err)
	}
}

func TestRefundsAndSubscriptions(t *testing.T) {
	s, p := provider(t)
	ctx := context.Background()
	re, err := s.Refund(ctx, payments.Refund{ProviderPaymentID: "pi_1", Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: "refund_evt"})
	if err != nil || re.Status != payments.Succeeded || !strings.HasPrefix(re.ProviderRefundID, "re_") {
		t.Fatalf("refund = %+v, %v", re, err)
	}
	if r := lastRequest(t, p, "/v1/refunds"); r.Form.Get("payment_intent") != "pi_1" || r.IdempotencyKey != "refund_evt" {
		t.Fatalf("refund request = %+v", r)
	}
	sub, err := s.StartSubscription(ctx, payments.StartSubscription{CustomerID: "cus_1", PaymentMethodID: "pm_1", PriceRef: "price_123",
		SubscriptionID: "sub_ledger", OrderID: "ord_2", IdempotencyKey: "start_evt"})
	if err != nil || !strings.HasPrefix(sub.ProviderSubscriptionID, "sub_") || sub.FirstPayment.Status != payments.Succeeded {
		t.Fatalf("subscription = %+v, %v", sub, err)
	}
	f := lastRequest(t, p, "/v1/subscriptions").Form
	if f.Get("items[0][price]") != "price_123" || f.Get("payment_behavior") != "error_if_incomplete" || f.Get("default_payment_method") != "pm_1" ||
		f.Get("metadata[subscription_id]") != "sub_ledger" {
		t.Fatalf("subscription request = %v", f)
	}
	if _, err := s.StartSubscription(ctx, payments.StartSubscription{CustomerID: "cus_1", PaymentMethodID: "pm_1", PriceRef: "fleet_monthly", IdempotencyKey: "k2"}); err != nil {
		t.Fatalf("subscription on a lookup key: %v", err)
	}
	if r := lastRequest(t, p, "/v1/prices"); r.Method != http.MethodGet {
		t.Fatalf("lookup key not resolved through /v1/prices: %+v", r)
	}
	if _, err := s.StartSubscription(ctx, payments.StartSubscription{CustomerID: "cus_1", PaymentMethodID: "pm_1", IdempotencyKey: "k3"}); !errors.Is(err, payments.ErrInvalidRequest) {
		t.Fatalf("a plan without a Stripe price: %v, want ErrInvalidRequest", err)
	}
	if err := s.CancelSubscription(ctx, payments.CancelSubscription{ProviderSubscriptionID: sub.ProviderSubscriptionID, IdempotencyKey: "cancel_evt"}); err != nil {
		t.Fatal(err)
	}
}

// TestPendingOutcomesAreReadAgain: Stripe replays a key's first answer, so
// a refund or payment still in flight is read from the object itself.
func TestPendingOutcomesAreReadAgain(t *testing.T) {
	s, p := provider(t)
	p.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/refunds":
			stripetest.StripeError(w, http.StatusOK, `{"id":"re_slow","object":"refund","status":"pending","payment_intent":"pi_1"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/refunds/re_slow":
			stripetest.StripeError(w, http.StatusOK, `{"id":"re_slow","object":"refund","status":"succeeded","payment_intent":"pi_1"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
			stripetest.StripeError(w, http.StatusOK, `{"id":"pi_slow","object":"payment_intent","status":"processing"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents/pi_slow":
			stripetest.StripeError(w, http.StatusOK, `{"id":"pi_slow","object":"payment_intent","status":"processing"}`)
		default:
			return false
		}
		return true
	})
	re, err := s.Refund(context.Background(), payments.Refund{ProviderPaymentID: "pi_1", Amount: 100, Currency: "usd", IdempotencyKey: "k"})
	if err != nil || re.Status != payments.Succeeded || re.ProviderRefundID != "re_slow" {
		t.Fatalf("refund pending then settled = %+v, %v", re, err)
	}
	if _, err := s.Charge(context.Background(), payments.Charge{CustomerID: "c", PaymentMethodID: "pm", Amount: 100, Currency: "usd", IdempotencyKey: "k2"}); err == nil {
		t.Fatal("a payment still processing was reported settled")
	}
}
