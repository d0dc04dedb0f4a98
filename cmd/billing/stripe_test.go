package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
	if r.Method == http.MethodGet && r.URL.Path == "/v1/prices/price_fleet_monthly" {
		// The plans file's recurring plan, as Stripe has it.
		stripetest.StripeError(w, http.StatusOK, `{"id":"price_fleet_monthly","object":"price","unit_amount":19900,"currency":"usd",
			"recurring":{"interval":"month","interval_count":1}}`)
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
	t.Setenv("BILLING_PLANS_FILE", stripePlans(t))
	return startService(t, t.TempDir()), f, proxy
}

// stripePlans is a catalog whose recurring plan names its Stripe price.
func stripePlans(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plans.json")
	plans := `{"plans":[
 {"id":"plan_robot_hours_10","name":"10 robot-hours","description":"d","type":"one_time","amount":4900,"currency":"usd"},
 {"id":"plan_fleet_monthly","name":"Fleet, monthly","description":"d","type":"recurring","amount":19900,"currency":"usd",
  "interval":"month","interval_count":1,"provider_price":"price_fleet_monthly"}]}`
	if err := os.WriteFile(path, []byte(plans), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeRefusesAPlanSoldOffItsStripePrice: Stripe bills renewals at its
// price; serve does not start when the plans file sells the plan at
// another amount, currency or interval, and says what differs.
func TestServeRefusesAPlanSoldOffItsStripePrice(t *testing.T) {
	stripeService(t) // stripe-mock and the environment; this service agrees
	plans := filepath.Join(t.TempDir(), "plans.json")
	if err := os.WriteFile(plans, []byte(`{"plans":[{"id":"plan_fleet_monthly","name":"Fleet","description":"d","type":"recurring",
		"amount":9900,"currency":"eur","interval":"year","interval_count":1,"provider_price":"price_fleet_monthly"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BILLING_PLANS_FILE", plans)
	cfg := configFromEnv()
	cfg.DataDir, cfg.HTTPAddr, cfg.NATS.Listen = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := m.Open(context.Background())
	m.Close()
	for _, want := range []string{"plan_fleet_monthly", "charges 19900, the plan 9900", "is in usd, the plan in eur", "every 1 month, the plan every 1 year"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("serve with a plan off its Stripe price: %v; want it refused saying %q", err, want)
		}
	}
}

var evtSeq atomic.Int64

// webhookPost signs and delivers a Stripe event; it returns the status.
func webhookPost(t *testing.T, s *service, id, typ string, object any, signedAt time.Time, secret string) int {
	t.Helper()
	return webhookPostData(t, s, id, typ, map[string]any{"object": object}, signedAt, secret, signedAt)
}

// webhookPostData delivers an event whose data is given whole (object and
// previous_attributes).
func webhookPostData(t *testing.T, s *service, id, typ string, data map[string]any, signedAt time.Time, secret string, created time.Time) int {
	t.Helper()
	raw, _ := json.Marshal(data)
	body := []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"api_version":"2023-10-16","created":%d,"data":%s}`,
		id, typ, created.Unix(), raw))
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

	// A partial refund made in the dashboard is not the order's refund.
	partial := alice.buy(orderBody(pm, fixedPlan, "partially-refunded"))
	deliver(t, s, "refund.created", map[string]any{"id": "re_partial", "object": "refund", "status": "succeeded", "amount": 100,
		"payment_intent": "pi_partial", "metadata": map[string]string{"order_id": partial.ID}})
	eventually(t, func() bool { return uint64(s.Reconciler.Position()) >= mustHead(t, s) }, "the partial refund to be read")
	if n := countEvents(t, s, domain.OrderID(partial.ID).Stream(), domain.EventOrderRefunded); n != 0 {
		t.Fatalf("a partial refund recorded the order refunded")
	}

	// Late and repeated news changes nothing: the payment arriving again
	// after the refund, the refund told again under another event id.
	deliver(t, s, "payment_intent.succeeded", map[string]any{"id": "pi_from_webhook", "object": "payment_intent", "status": "succeeded",
		"metadata": map[string]string{"order_id": pending.ID}})
	deliver(t, s, "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "refunded": true, "amount": 4900, "amount_refunded": 4900,
		"payment_intent": "pi_from_webhook", "metadata": map[string]string{"order_id": pending.ID}})
	eventually(t, func() bool { return uint64(s.Reconciler.Position()) >= mustHead(t, s) }, "the reconciler to read the late news")
	for typ, want := range map[string]int{domain.EventOrderPaid: 1, domain.EventOrderRefunded: 1, domain.EventRefundRequested: 1} {
		if n := countEvents(t, s, domain.OrderID(pending.ID).Stream(), typ); n != want {
			t.Errorf("%s recorded %d times after late and repeated webhooks, want %d", typ, n, want)
		}
	}
}

func mustHead(t *testing.T, s *service) uint64 {
	t.Helper()
	h, err := s.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return uint64(h)
}

func TestStripeSubscriptionLifecycle(t *testing.T) {
	s, f, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")
	first := alice.buy(orderBody(pm, monthlyPlan, "fleet"))
	if first.Status != "paid" || first.SubscriptionID == nil {
		t.Fatalf("first order of the monthly plan = %+v", first)
	}
	if got := lastForm(t, proxy, "/v1/subscriptions").Get("items[0][price]"); got != "price_fleet_monthly" {
		t.Fatalf("subscription started on price %q, want the plan's", got)
	}
	sub := alice.newestSubscription()
	// Stripe bills the next period at a price changed in its dashboard,
	// to an end of its own: the ledger records what Stripe charged.
	start, end := sub.CurrentPeriodEnd.Truncate(time.Second), sub.CurrentPeriodEnd.Truncate(time.Second).AddDate(0, 0, 31)
	line := map[string]any{"object": "list", "data": []map[string]any{
		{"id": "il_1", "object": "line_item", "type": "subscription", "period": map[string]int64{"start": start.Unix(), "end": end.Unix()}}}}
	invoice := map[string]any{"id": "in_renew_1", "object": "invoice", "billing_reason": "subscription_cycle",
		"payment_intent": "pi_renewal_1", "subscription": "sub_stripe_1", "amount_paid": 21900, "currency": "usd", "lines": line,
		"subscription_details": map[string]any{"metadata": map[string]string{"subscription_id": sub.ID}}}
	id := deliver(t, s, "invoice.paid", invoice)
	waitFor(t, s, func() bool {
		subs := alice.subscriptions()
		return len(alice.orders("").Data) == 2 && subs[0].CurrentPeriodStart.Equal(start)
	}, "the renewal to be recorded")
	renewal := alice.orders("?order_by_desc=created_at").Data[0]
	if renewal.Status != "paid" || renewal.Amount != 21900 || renewal.Currency != "usd" || renewal.SubscriptionID == nil || *renewal.SubscriptionID != sub.ID {
		t.Fatalf("renewal order = %+v, want paid, 21900 usd, of %s", renewal, sub.ID)
	}
	if got := alice.newestSubscription().CurrentPeriodEnd; !got.Equal(end) {
		t.Fatalf("renewed period ends %v, want Stripe's %v", got, end)
	}
	if got := types(historyJSON(t, s.Config.DataDir, renewal.ID)); !slices.Contains(got, "provider.event_received") {
		t.Fatalf("the renewal's story %v lacks the invoice.paid notice that caused it", got)
	}
	// Stripe redelivers the same event: nothing more.
	if status := webhookPost(t, s, id, "invoice.paid", invoice, time.Now(), whsec); status != http.StatusOK {
		t.Fatalf("redelivery answered %d", status)
	}
	f.set(nil)
	// A failure older than the renewal (an attempt a later payment made
	// good), arriving late, marks nothing.
	if status := webhookPostData(t, s, "evt_stale_failure", "invoice.payment_failed", map[string]any{"object": invoice},
		time.Now(), whsec, time.Now().Add(-time.Hour)); status != http.StatusOK {
		t.Fatalf("late failure answered %d", status)
	}
	eventually(t, func() bool { return uint64(s.Reconciler.Position()) >= mustHead(t, s) }, "the late failure to be read")
	if st := alice.newestSubscription().Status; st != "active" {
		t.Fatalf("a failure older than the renewal made the subscription %s", st)
	}
	deliver(t, s, "invoice.payment_failed", invoice)
	waitFor(t, s, func() bool { return alice.newestSubscription().Status == "past_due" }, "past_due")
	deliver(t, s, "customer.subscription.deleted", map[string]any{"id": "sub_stripe_1", "object": "subscription", "status": "canceled",
		"metadata": map[string]string{"subscription_id": sub.ID}})
	waitFor(t, s, func() bool { return alice.newestSubscription().Status == "canceled" }, "the subscription to end")
	if n := len(alice.orders("").Data); n != 2 {
		t.Fatalf("%d orders after one renewal delivered twice, want 2", n)
	}
	// Stripe billed a period after the subscription ended here: the money
	// is recorded as a renewal order, and refunded.
	deliver(t, s, "invoice.paid", map[string]any{"id": "in_renew_2", "object": "invoice", "billing_reason": "subscription_cycle",
		"payment_intent": "pi_renewal_2", "subscription": "sub_stripe_1", "amount_paid": 19900, "currency": "usd",
		"subscription_details": map[string]any{"metadata": map[string]string{"subscription_id": sub.ID}}})
	waitFor(t, s, func() bool {
		orders := alice.orders("").Data
		refunded := 0
		for _, o := range orders {
			if o.Status == "refunded" {
				refunded++
			}
		}
		return len(orders) == 3 && refunded == 1
	}, "the charge after the end to be recorded and refunded")

	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/customers/cus_alice" {
			stripetest.StripeError(w, http.StatusOK, `{"id":"cus_alice","object":"customer","metadata":{"user_id":"alice"}}`)
			return true
		}
		return false
	})
	card := paymentMethodOf(t, alice)
	if status := webhookPostData(t, s, "evt_detach", "payment_method.detached", map[string]any{
		"object": stripeDetached(card), "previous_attributes": map[string]any{"customer": "cus_alice"},
	}, time.Now(), whsec, time.Now()); status != http.StatusOK {
		t.Fatalf("payment_method.detached answered %d", status)
	}
	waitFor(t, s, func() bool {
		var got struct{ Data []paymentMethod }
		alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(t, &got)
		return len(got.Data) == 0
	}, "the detached card to go")
}

// paymentMethodOf is the provider's id of the user's only card, from the log.
func paymentMethodOf(t *testing.T, c *client) string {
	t.Helper()
	w := domain.NewWallet("alice")
	if _, err := c.s.Log.Load(context.Background(), domain.WalletStream("alice"), w); err != nil {
		t.Fatal(err)
	}
	return w.Cards()[0].ProviderPaymentMethodID
}

func stripeDetached(pm string) map[string]any {
	return map[string]any{"id": pm, "object": "payment_method", "type": "card", "customer": nil}
}

func lastForm(t *testing.T, p *stripetest.Proxy, path string) url.Values {
	t.Helper()
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i].Form
		}
	}
	t.Fatalf("no request to %s", path)
	return nil
}

// faultCycle answers the first few calls of each kind (charges, refunds,
// cancellations) with a 500, a 429 asking to retry later, a dropped
// connection and a timeout, in turn; then lets them through.
type faultCycle struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *faultCycle) fault(w http.ResponseWriter, r *http.Request) bool {
	kind := ""
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
		kind = "charge"
	case r.Method == http.MethodPost && r.URL.Path == "/v1/refunds":
		kind = "refund"
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v1/subscriptions/"):
		kind = "cancel"
	default:
		return false
	}
	c.mu.Lock()
	n := c.calls[kind]
	c.calls[kind]++
	c.mu.Unlock()
	switch n {
	case 0:
		stripetest.StripeError(w, http.StatusInternalServerError, `{"error":{"type":"api_error","message":"boom"}}`)
	case 1:
		w.Header().Set("Retry-After", "1")
		stripetest.StripeError(w, http.StatusTooManyRequests, `{"error":{"type":"rate_limit_error","message":"slow down"}}`)
	case 2:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // dropped mid-request
		}
	case 3:
		time.Sleep(time.Second) // past the client's timeout
		stripetest.StripeError(w, http.StatusInternalServerError, `{"error":{"type":"api_error","message":"too late"}}`)
	default:
		if kind == "charge" {
			succeedIntent(w, r)
		}
		return kind == "charge"
	}
	return true
}

func succeedIntent(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	stripetest.StripeError(w, http.StatusOK, fmt.Sprintf(`{"id":"pi_%s","object":"payment_intent","status":"succeeded","amount":%s,"currency":"usd","metadata":{"order_id":%q}}`,
		r.Header.Get("Idempotency-Key"), r.PostForm.Get("amount"), r.PostForm.Get("metadata[order_id]")))
}

// TestStripeFaultKinds: through 500s, 429s, dropped connections and
// timeouts, every charge, refund and cancellation is asked with one
// idempotency key per order (or subscription), ends settled, and is
// recorded once.
func TestStripeFaultKinds(t *testing.T) {
	t.Setenv("BILLING_STRIPE_TIMEOUT", "300ms")
	s, f, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")
	cycle := &faultCycle{calls: map[string]int{}}
	f.set(cycle.fault)

	o := alice.buy(orderBody(pm, fixedPlan, "through-faults"))
	eventually(t, func() bool { return alice.orders("").Data[0].Status == "paid" }, "the order to be paid through the faults")
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "")
	eventually(t, func() bool { return alice.orders("?order_by_asc=created_at").Data[0].Status == "refunded" }, "the refund")

	first := alice.buy(orderBody(pm, monthlyPlan, "sub-through-faults"))
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+*first.SubscriptionID, nil), http.StatusOK, "")
	sub := domain.SubscriptionID(*first.SubscriptionID)
	eventually(t, func() bool { return countEvents(t, s, sub.Stream(), domain.EventSubscriptionCanceled) == 1 }, "the cancellation at Stripe")

	keys := map[string]map[string]bool{}
	for _, r := range proxy.Requests() {
		var what string
		switch {
		case r.Path == "/v1/payment_intents" && r.Form.Get("metadata[order_id]") == o.ID:
			what = "charge"
		case r.Path == "/v1/refunds" && r.Form.Get("metadata[order_id]") == o.ID:
			what = "refund"
		case r.Method == http.MethodDelete && strings.HasPrefix(r.Path, "/v1/subscriptions/"):
			what = "cancel"
		default:
			continue
		}
		if keys[what] == nil {
			keys[what] = map[string]bool{}
		}
		keys[what][r.IdempotencyKey] = true
	}
	for _, what := range []string{"charge", "refund", "cancel"} {
		if len(keys[what]) != 1 {
			t.Errorf("%s tried with %d idempotency keys (%v), want 1", what, len(keys[what]), keys[what])
		}
	}
	for stream, typ := range map[string]string{
		domain.OrderID(o.ID).Stream() + " paid": domain.EventOrderPaid, domain.OrderID(o.ID).Stream() + " refunded": domain.EventOrderRefunded,
	} {
		if n := countEvents(t, s, strings.Fields(stream)[0], typ); n != 1 {
			t.Errorf("%s recorded %d times", typ, n)
		}
	}
}

// TestStripeFailureWebhooks: a payment Stripe reports failed, a refund it
// reports failed, a subscription it reports past due.
func TestStripeFailureWebhooks(t *testing.T) {
	t.Setenv("BILLING_OUTCOME_WAIT", "1s") // a refund Stripe holds pending answers refund_pending after it
	s, f, _ := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")

	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/payment_intents" {
			return false
		}
		stripetest.StripeError(w, http.StatusServiceUnavailable, `{"error":{"type":"api_error","message":"down"}}`)
		return true
	})
	pending := alice.buy(orderBody(pm, fixedPlan, "reported-failed"))
	deliver(t, s, "payment_intent.payment_failed", map[string]any{"id": "pi_f", "object": "payment_intent", "status": "requires_payment_method",
		"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Insufficient funds."},
		"metadata":           map[string]string{"order_id": pending.ID}})
	eventually(t, func() bool {
		o := alice.orders("").Data[0]
		return o.Status == "failed" && o.FailureCode != nil && *o.FailureCode == "insufficient_funds"
	}, "the reported failure")

	f.set(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
			succeedIntent(w, r)
		case r.URL.Path == "/v1/refunds" || strings.HasPrefix(r.URL.Path, "/v1/refunds/"):
			stripetest.StripeError(w, http.StatusOK, `{"id":"re_slow","object":"refund","status":"pending","payment_intent":"pi_x"}`)
		default:
			return false
		}
		return true
	})
	paid := alice.buy(orderBody(pm, fixedPlan, "refund-fails"))
	var refunding order
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+paid.ID+"/refund", nil), http.StatusOK, "").decode(t, &refunding)
	if refunding.Status != "refund_pending" {
		t.Fatalf("a refund Stripe holds pending = %+v", refunding)
	}
	deliver(t, s, "refund.updated", map[string]any{"id": "re_slow", "object": "refund", "status": "failed", "failure_reason": "expired_or_canceled_card",
		"payment_intent": "pi_x", "metadata": map[string]string{"order_id": paid.ID}})
	eventually(t, func() bool {
		for _, o := range alice.orders("").Data {
			if o.ID == paid.ID {
				return o.Status == "paid" && o.IsRefundable
			}
		}
		return false
	}, "the failed refund to leave the order paid and refundable")

	f.set(nil)
	first := alice.buy(orderBody(pm, monthlyPlan, "goes-past-due"))
	deliver(t, s, "customer.subscription.updated", map[string]any{"id": "sub_s", "object": "subscription", "status": "past_due",
		"metadata": map[string]string{"subscription_id": *first.SubscriptionID}})
	eventually(t, func() bool { return alice.newestSubscription().Status == "past_due" }, "past_due")
}

// TestStripeIdempotency: api.md's idempotency rules hold with Stripe as
// they do with the sandbox: racing requests with one key place one order,
// charged once; a replay is marked; another body is refused.
func TestStripeIdempotency(t *testing.T) {
	s, f, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")
	succeedIntents(f)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "same"))
		}()
	}
	wg.Wait()
	replay := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "same")), http.StatusCreated, "")
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("the replay is not marked")
	}
	reused := orderBody(pm, fixedPlan, "same")
	reused["amount"] = 1
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", reused), http.StatusConflict, "idempotency_key_reused")
	if got := alice.orders("").Data; len(got) != 1 || got[0].Status != "paid" {
		t.Fatalf("orders = %+v, want one paid", got)
	}
	charges := 0
	for _, r := range proxy.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/payment_intents" {
			charges++
		}
	}
	if charges != 1 {
		t.Fatalf("Stripe was asked to charge %d times, want once", charges)
	}
}

// TestStripeCancelAtPeriodEndAndCardChanges: with Stripe, which bills the
// subscription itself, a cancellation at period end and a card change are
// passed on to Stripe's subscription; a cancellation at period end taken
// back in Stripe's dashboard is recorded from its webhook.
func TestStripeCancelAtPeriodEndAndCardChanges(t *testing.T) {
	s, _, proxy := stripeService(t)
	alice := s.user(t, "alice")
	pm := stripeCard(t, s, alice, "alice")
	first := alice.buy(orderBody(pm, monthlyPlan, "fleet"))
	sub := alice.newestSubscription()
	var provider domain.Subscription
	if _, err := s.Log.Load(context.Background(), domain.SubscriptionID(sub.ID).Stream(), &provider); err != nil || provider.ProviderSubscriptionID == "" {
		t.Fatalf("subscription %+v not started at Stripe: %v", first, err)
	}
	stripePath := "/v1/subscriptions/" + provider.ProviderSubscriptionID
	sent := func(field, want string) bool {
		for _, r := range proxy.Requests() {
			if r.Method == http.MethodPost && r.Path == stripePath && r.Form.Get(field) == want {
				return true
			}
		}
		return false
	}

	var got subscription
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+sub.ID+"?at_period_end=true", nil), http.StatusOK, "").decode(t, &got)
	if got.Status != "active" || !got.CancelAtPeriodEnd {
		t.Fatalf("after DELETE ?at_period_end=true: %+v", got)
	}
	eventually(t, func() bool { return sent("cancel_at_period_end", "true") }, "cancel_at_period_end sent to Stripe")

	if status := webhookPostData(t, s, "evt_uncancel", "customer.subscription.updated", map[string]any{
		"object": map[string]any{"id": provider.ProviderSubscriptionID, "object": "subscription", "status": "active",
			"cancel_at_period_end": false, "metadata": map[string]string{"subscription_id": sub.ID}},
		"previous_attributes": map[string]any{"cancel_at_period_end": true},
	}, time.Now(), whsec, time.Now()); status != http.StatusOK {
		t.Fatalf("customer.subscription.updated answered %d", status)
	}
	waitFor(t, s, func() bool { return !alice.newestSubscription().CancelAtPeriodEnd }, "the cancellation taken back at Stripe to be recorded")

	other := stripeCard(t, s, alice, "alice")
	alice.want(alice.call(http.MethodPatch, "/v1/me/wallet/subscriptions/"+sub.ID, map[string]any{"payment_method_id": other}), http.StatusOK, "").decode(t, &got)
	if got.PaymentMethodID != other {
		t.Fatalf("PATCH payment_method_id: %+v", got)
	}
	w := domain.NewWallet("alice")
	if _, err := s.Log.Load(context.Background(), domain.WalletStream("alice"), w); err != nil {
		t.Fatal(err)
	}
	card, _ := w.EverAttached(domain.PaymentMethodID(other))
	eventually(t, func() bool { return sent("default_payment_method", card.ProviderPaymentMethodID) }, "the new card sent to Stripe")

	// Stripe's retries failed and it ended the subscription: the same
	// cancel_reason as the sandbox's dunning shows.
	deliver(t, s, "customer.subscription.deleted", map[string]any{"id": provider.ProviderSubscriptionID, "object": "subscription",
		"status": "canceled", "cancellation_details": map[string]any{"reason": "payment_failed"},
		"metadata": map[string]string{"subscription_id": sub.ID}})
	waitFor(t, s, func() bool { return alice.newestSubscription().Status == "canceled" }, "the subscription to end")
	if got = alice.newestSubscription(); got.CancelReason == nil || *got.CancelReason != "payment_failed" {
		t.Fatalf("ended by Stripe after failed payments: %+v, want cancel_reason payment_failed", got)
	}
}
