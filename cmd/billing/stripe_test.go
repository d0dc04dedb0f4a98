package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/payments/stripe/stripetest"
	"github.com/stripe/stripe-go/v76/webhook"
)

const whsec = "whsec_test_secret"

var (
	stripeMockOnce sync.Once
	stripeMockURL  string
	stripeMockStop = func() {}
)

// faults layers a test's faults over what every Stripe test needs:
// stripe-mock's Checkout Session fixture expired in 2009, so its creation
// answers a session as Stripe does, open for 24 hours.
type faults struct {
	mu    sync.Mutex
	extra stripetest.Fault
}

func (f *faults) set(extra stripetest.Fault) {
	f.mu.Lock()
	f.extra = extra
	f.mu.Unlock()
}

func (f *faults) serve(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	extra := f.extra
	f.mu.Unlock()
	if extra != nil && extra(w, r) {
		return true
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions" {
		id := fmt.Sprintf("cs_test_%d", evtSeq.Add(1))
		stripetest.StripeError(w, http.StatusOK, fmt.Sprintf(`{"id":%q,"object":"checkout.session","mode":"setup","status":"open","url":"https://checkout.stripe.com/c/pay/%s","expires_at":%d}`,
			id, id, time.Now().Add(24*time.Hour).Unix()))
		return true
	}
	return false
}

// stripeService runs serve with Stripe as the provider: stripe-mock behind
// a recording, fault-injecting proxy, and a webhook secret to sign with.
func stripeService(t *testing.T) (*service, *faults, *stripetest.Proxy) {
	t.Helper()
	stripeMockOnce.Do(func() {
		url, stop, err := stripetest.StartMock()
		if err != nil {
			t.Fatal(err)
		}
		stripeMockURL, stripeMockStop = url, stop
	})
	proxy := stripetest.NewProxy(t, stripeMockURL)
	f := &faults{}
	proxy.SetFault(f.serve)
	t.Setenv("BILLING_STRIPE_SECRET_KEY", "sk_test_billing")
	t.Setenv("BILLING_STRIPE_WEBHOOK_SECRET", "whsec_old,"+whsec)
	t.Setenv("BILLING_STRIPE_API_BASE", proxy.URL)
	return startService(t, t.TempDir()), f, proxy
}

var evtSeq atomic.Int64

// webhookPost signs and delivers a Stripe event; it returns the status.
func webhookPost(t *testing.T, s *service, id, typ string, object any, signedAt time.Time, secret string) int {
	t.Helper()
	obj, _ := json.Marshal(object)
	body := []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"api_version":"2023-10-16","created":%d,"data":{"object":%s}}`,
		id, typ, signedAt.Unix(), obj))
	header := fmt.Sprintf("t=%d,v1=%x", signedAt.Unix(), webhook.ComputeSignature(signedAt, body, secret))
	req, _ := http.NewRequest(http.MethodPost, s.base+"/v1/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Stripe-Signature", header)
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func deliver(t *testing.T, s *service, typ string, object any) string {
	t.Helper()
	id := fmt.Sprintf("evt_test_%d", evtSeq.Add(1))
	if status := webhookPost(t, s, id, typ, object, time.Now(), whsec); status != http.StatusOK {
		t.Fatalf("webhook %s answered %d", typ, status)
	}
	return id
}

// stripeCard saves a card the way Stripe does it: Checkout, then the
// checkout.session.completed webhook.
func stripeCard(t *testing.T, s *service, c *client, user string) string {
	t.Helper()
	setup := c.startSetup()
	if !strings.HasPrefix(setup.URL, "https://checkout.stripe.com/") {
		t.Fatalf("setup URL %q is not Stripe Checkout", setup.URL)
	}
	deliver(t, s, "checkout.session.completed", map[string]any{
		"id": "cs_test_" + setup.ID, "object": "checkout.session", "mode": "setup", "setup_intent": "seti_123",
		"customer": "cus_123", "metadata": map[string]string{"session_id": setup.ID, "user_id": user},
	})
	var pm string
	waitFor(t, s, func() bool {
		var got struct{ Data []paymentMethod }
		c.want(c.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(t, &got)
		if len(got.Data) == 1 && got.Data[0].Brand == "visa" && got.Data[0].Last4 == "4242" {
			pm = got.Data[0].ID
			return true
		}
		return false
	}, "the card from checkout.session.completed")
	return pm
}

// succeedIntents makes the proxy answer PaymentIntent creation like Stripe
// does for a card that pays (stripe-mock's fixture says requires_payment_method).
func succeedIntents(f *faults) {
	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/payment_intents" {
			return false
		}
		r.ParseForm()
		stripetest.StripeError(w, http.StatusOK, fmt.Sprintf(`{"id":"pi_%s","object":"payment_intent","status":"succeeded","amount":%s,"currency":"usd","metadata":{"order_id":%q}}`,
			r.Header.Get("Idempotency-Key"), r.PostForm.Get("amount"), r.PostForm.Get("metadata[order_id]")))
		return true
	})
}

func TestStripeCardsOrdersAndRefunds(t *testing.T) {
	s, f, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")

	// stripe-mock's PaymentIntent fixture is a decline: the order fails.
	failed := alice.buy(orderBody(pm, fixedPlan, "declined"))
	if failed.Status != "failed" || failed.FailureCode == nil {
		t.Fatalf("order on stripe-mock's fixture = %+v, want failed", failed)
	}
	succeedIntents(f)
	paid := alice.buy(orderBody(pm, fixedPlan, "paid"))
	if paid.Status != "paid" {
		t.Fatalf("order with a succeeding PaymentIntent = %+v", paid)
	}
	var refunded order
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+paid.ID+"/refund", nil), http.StatusOK, "").decode(t, &refunded)
	if refunded.Status != "refunded" {
		t.Fatalf("refund through Stripe = %+v", refunded)
	}
	for _, r := range proxy.Requests() {
		if r.Method == http.MethodPost && r.IdempotencyKey == "" {
			t.Errorf("%s %s carried no Idempotency-Key", r.Method, r.Path)
		}
	}
}

func TestStripeWebhooksAreVerifiedAndRecordedOnce(t *testing.T) {
	s, _, _ := stripeService(t)
	obj := map[string]any{"id": "pi_x", "object": "payment_intent", "status": "succeeded", "metadata": map[string]string{}}
	now := time.Now()
	for name, status := range map[string]int{
		"wrong secret": webhookPost(t, s, "evt_bad_1", "payment_intent.succeeded", obj, now, "whsec_attacker"),
		"stale":        webhookPost(t, s, "evt_bad_2", "payment_intent.succeeded", obj, now.Add(-10*time.Minute), whsec),
		"old secret":   webhookPost(t, s, "evt_rot_1", "payment_intent.succeeded", obj, now, "whsec_old"),
	} {
		want := http.StatusBadRequest
		if name == "old secret" {
			want = http.StatusOK // still configured during the rotation
		}
		if status != want {
			t.Errorf("%s: %d, want %d", name, status, want)
		}
	}
	unsigned, _ := http.Post(s.base+"/v1/webhooks/stripe", "application/json", strings.NewReader(`{"id":"evt_bad_3"}`))
	unsigned.Body.Close()
	if unsigned.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned webhook: %d, want 400", unsigned.StatusCode)
	}
	for _, id := range []string{"evt_bad_1", "evt_bad_2", "evt_bad_3"} {
		if n := countEvents(t, s, domain.ProviderEventStream("stripe", id), domain.EventProviderEventReceived); n != 0 {
			t.Errorf("refused webhook %s was recorded", id)
		}
	}
	for range 3 { // Stripe redelivers
		if status := webhookPost(t, s, "evt_dup", "payment_intent.succeeded", obj, time.Now(), whsec); status != http.StatusOK {
			t.Fatalf("redelivery answered %d", status)
		}
	}
	if n := countEvents(t, s, domain.ProviderEventStream("stripe", "evt_dup"), domain.EventProviderEventReceived); n != 1 {
		t.Fatalf("a webhook delivered three times was recorded %d times", n)
	}
}

// TestStripeFaults: while Stripe answers 500s the order stays pending and
// every try carries one idempotency key; the payment_intent.succeeded
// webhook settles it; once Stripe is back nothing is recorded twice.
func TestStripeFaults(t *testing.T) {
	s, f, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")
	var tries atomic.Int64
	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/payment_intents" {
			return false
		}
		tries.Add(1)
		stripetest.StripeError(w, http.StatusInternalServerError, `{"error":{"type":"api_error","message":"down"}}`)
		return true
	})
	pending := alice.buy(orderBody(pm, fixedPlan, "during-outage"))
	if pending.Status != "pending" {
		t.Fatalf("order during a Stripe outage = %+v, want pending", pending)
	}
	eventually(t, func() bool { return tries.Load() >= 3 }, "the reconciler to retry the charge")

	deliver(t, s, "payment_intent.succeeded", map[string]any{"id": "pi_from_webhook", "object": "payment_intent", "status": "succeeded",
		"metadata": map[string]string{"order_id": pending.ID}})
	waitFor(t, s, func() bool { return alice.orders("").Data[0].Status == "paid" }, "the webhook to settle the order")

	succeedIntents(f)
	eventually(t, func() bool {
		var o domain.Order
		v, err := s.Log.Load(context.Background(), domain.OrderID(pending.ID).Stream(), &o)
		return err == nil && v.Revision == 1 && uint64(s.Reconciler.Position()) >= mustHead(t, s)
	}, "the reconciler to retry the parked charge and finish")
	keys := map[string]bool{}
	for _, r := range proxy.Requests() {
		if r.Path == "/v1/payment_intents" && r.Form.Get("metadata[order_id]") == pending.ID {
			keys[r.IdempotencyKey] = true
		}
	}
	if len(keys) != 1 {
		t.Fatalf("the order's charge was tried with %d idempotency keys, want 1", len(keys))
	}
	if n := countEvents(t, s, domain.OrderID(pending.ID).Stream(), domain.EventOrderPaid); n != 1 {
		t.Fatalf("order.paid recorded %d times", n)
	}

	// A refund made in Stripe's dashboard is recorded too.
	deliver(t, s, "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "refunded": true, "amount": 4900, "amount_refunded": 4900,
		"payment_intent": "pi_from_webhook", "metadata": map[string]string{"order_id": pending.ID},
		"refunds": map[string]any{"object": "list", "data": []map[string]any{{"id": "re_dashboard", "object": "refund"}}}})
	waitFor(t, s, func() bool { return alice.orders("").Data[0].Status == "refunded" }, "the dashboard refund")
}

func mustHead(t *testing.T, s *service) uint64 {
	t.Helper()
	h, err := s.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uint64(h)
}
