package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

const (
	fixedPlan   = "plan_robot_hours_10" // one_time, 4900
	customPlan  = "plan_robot_hours_custom"
	monthlyPlan = "plan_fleet_monthly"
)

func orderBody(pm, plan, key string) map[string]any {
	return map[string]any{"payment_method_id": pm, "plan_id": plan, "idempotency_key": key}
}

func TestBuyingPlans(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)

	o := alice.buy(orderBody(pm, fixedPlan, "k1"))
	if o.Status != "paid" || o.Amount != 4900 || o.Currency != "usd" || !o.IsRefundable || o.PaymentMethodID != pm ||
		o.SubscriptionID != nil || o.FailureCode != nil || o.RefundedAt != nil || !strings.HasPrefix(o.ID, "ord_") {
		t.Fatalf("fixed-price order = %+v", o)
	}
	withPrice := orderBody(pm, fixedPlan, "k2")
	withPrice["amount"] = 4900
	alice.buy(withPrice)

	custom := orderBody(pm, customPlan, "k3")
	custom["amount"] = 12345
	if o := alice.buy(custom); o.Amount != 12345 || o.Status != "paid" {
		t.Fatalf("custom-amount order = %+v", o)
	}
	if got := alice.orders("").Data; len(got) != 3 {
		t.Fatalf("listed %d orders after three purchases", len(got))
	}
}

// TestAnOrderReadsTheSameEverywhere: the POST's answer, the refund's and
// the list's entry for an order are the same bytes once it settled: one
// rendering of an order, whichever path answers.
func TestAnOrderReadsTheSameEverywhere(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	placed := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(alice.saveCard(visa), fixedPlan, "k")),
		http.StatusCreated, "")
	var o order
	placed.decode(t, &o)
	sameAsListed(t, alice, "POST …/orders", placed)
	refunded := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "")
	sameAsListed(t, alice, "POST …/refund", refunded)
}

// TestEveryAnswerIsListedAtOnce: api.md's read-your-writes, order after
// order with no pause: each POST's answer is what the list and the order's
// own GET show right after it, though the answer came from the projector's
// fold before its commit.
func TestEveryAnswerIsListedAtOnce(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	for i := range 20 {
		placed := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, fmt.Sprint("k", i))),
			http.StatusCreated, "")
		var o order
		placed.decode(t, &o)
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders?limit=1", nil), http.StatusOK, "").decode(t, &page)
		if len(page.Data) != 1 || !bytes.Equal(page.Data[0], placed.body) {
			t.Fatalf("order %d: POST answered\n  %s\nthe list's first shows\n  %s", i, placed.body, page.Data)
		}
		got := alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders/"+o.ID, nil), http.StatusOK, "")
		if !bytes.Equal(got.body, placed.body) {
			t.Fatalf("order %d: POST answered\n  %s\nGET shows\n  %s", i, placed.body, got.body)
		}
	}
}

func sameAsListed(t *testing.T, c *client, what string, a answer) {
	t.Helper()
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	c.want(c.call(http.MethodGet, "/v1/me/wallet/orders", nil), http.StatusOK, "").decode(t, &page)
	if len(page.Data) != 1 || !bytes.Equal(page.Data[0], a.body) {
		t.Fatalf("%s answered\n  %s\nthe list shows\n  %s", what, a.body, page.Data)
	}
}

func TestOrderRefusals(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	bobsCard := s.user(t, "bob").saveCard(visa)
	with := func(key string, set map[string]any) map[string]any {
		b := orderBody(pm, fixedPlan, key)
		for k, v := range set {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		param  string
	}{
		{"fixed plan, another amount", with("r1", map[string]any{"amount": 100}), 422, "amount_not_allowed", ""},
		{"custom plan without amount", with("r2", map[string]any{"plan_id": customPlan}), 422, "validation_failed", "amount"},
		{"custom plan below min", with("r3", map[string]any{"plan_id": customPlan, "amount": 1}), 422, "amount_out_of_range", ""},
		{"custom plan above max", with("r4", map[string]any{"plan_id": customPlan, "amount": 500001}), 422, "amount_out_of_range", ""},
		{"unknown plan", with("r5", map[string]any{"plan_id": "plan_nope"}), 422, "plan_not_found", ""},
		{"another user's card", with("r6", map[string]any{"payment_method_id": bobsCard}), 422, "payment_method_not_found", ""},
		{"unknown card", with("r7", map[string]any{"payment_method_id": "pm_nope"}), 422, "payment_method_not_found", ""},
		{"negative amount", with("r8", map[string]any{"amount": -5}), 422, "validation_failed", "amount"},
		{"missing plan", map[string]any{"payment_method_id": pm, "idempotency_key": "r9"}, 422, "validation_failed", "plan_id"},
		{"empty card", with("r10", map[string]any{"payment_method_id": ""}), 422, "validation_failed", "payment_method_id"},
		{"missing key", map[string]any{"payment_method_id": pm, "plan_id": fixedPlan}, 422, "validation_failed", "idempotency_key"},
		{"empty key", with("", nil), 422, "validation_failed", "idempotency_key"},
		{"key too long", with(strings.Repeat("k", 256), nil), 422, "validation_failed", "idempotency_key"},
		{"malformed JSON", `{"plan_id":`, 400, "invalid_request", ""},
		{"not an object", `[1,2]`, 400, "invalid_request", ""},
		{"empty body", "", 400, "invalid_request", ""},
		{"amount as string", with("r11", map[string]any{"amount": "4900"}), 400, "invalid_request", "amount"},
		{"amount as float", with("r12", map[string]any{"amount": 49.5}), 400, "invalid_request", "amount"},
		{"plan as number", with("r13", map[string]any{"plan_id": 7}), 400, "invalid_request", "plan_id"},
		{"unknown field", with("r14", map[string]any{"currency": "usd"}), 400, "invalid_request", "currency"},
		{"trailing data", `{"plan_id":"x"} {}`, 400, "invalid_request", ""},
		// Decoded leniently, "k\xff" and "k\xfe" would both be "k\ufffd": one key.
		{"key not UTF-8", `{"plan_id":"` + fixedPlan + `","payment_method_id":"` + pm + "\",\"idempotency_key\":\"k\xff\"}", 400, "invalid_request", ""},
		{"plan not UTF-8", "{\"plan_id\":\"plan_\xc3\",\"payment_method_id\":\"" + pm + "\",\"idempotency_key\":\"r16\"}", 400, "invalid_request", ""},
		{"body over 64 KiB", with("r15", map[string]any{"plan_id": strings.Repeat("p", 70<<10)}), 413, "payload_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := alice.call(http.MethodPost, "/v1/me/wallet/orders", tc.body)
			code, param := a.errCode()
			if a.status != tc.status || code != tc.code || (tc.param != "" && param != tc.param) {
				t.Fatalf("got %d %s (param %q), want %d %s (param %q): %s", a.status, code, param, tc.status, tc.code, tc.param, a.body)
			}
		})
	}
	if got := alice.orders("").Data; len(got) != 0 {
		t.Fatalf("refused requests left %d orders", len(got))
	}
	// The refusal of a body too large says the limit.
	a := alice.call(http.MethodPost, "/v1/me/wallet/orders", with("r17", map[string]any{"plan_id": strings.Repeat("p", 70<<10)}))
	if !strings.Contains(string(a.body), "64 KiB") {
		t.Fatalf("413 answer %s does not say the limit", a.body)
	}
}

func TestDeclinedCardsFailTheOrder(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	for card, code := range map[string]string{declines: "card_declined", insufficient: "insufficient_funds"} {
		o := alice.buy(orderBody(alice.saveCard(card), fixedPlan, "k-"+card))
		if o.Status != "failed" || o.FailureCode == nil || *o.FailureCode != code || o.IsRefundable {
			t.Fatalf("order on %s = %+v, want failed with %s", card, o, code)
		}
		refund := alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil)
		alice.want(refund, http.StatusConflict, "order_not_refundable")
	}
}

func TestIdempotencyKeys(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)

	first := alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "same"))
	alice.want(first, http.StatusCreated, "")
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the first request is marked replayed")
	}
	again := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "same")), http.StatusCreated, "")
	var o1, o2 order
	first.decode(t, &o1)
	again.decode(t, &o2)
	if again.header.Get("Idempotent-Replayed") != "true" || o1.ID != o2.ID || o2.Status != "paid" {
		t.Fatalf("replay = %+v (header %q), want the same paid order %s", o2, again.header.Get("Idempotent-Replayed"), o1.ID)
	}
	reused := orderBody(pm, customPlan, "same")
	reused["amount"] = 1000
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", reused), http.StatusConflict, "idempotency_key_reused")

	// The header alone works like the body field, and matches it when both are sent.
	noKey := map[string]any{"payment_method_id": pm, "plan_id": fixedPlan}
	byHeader := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", noKey, "Idempotency-Key", "hdr"), http.StatusCreated, "")
	replayed := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "hdr")), http.StatusCreated, "")
	if replayed.header.Get("Idempotent-Replayed") != "true" || string(byHeader.body[:20]) != string(replayed.body[:20]) {
		t.Fatalf("body key after header key: not a replay of the same order")
	}
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, "a"), "Idempotency-Key", "b"), http.StatusBadRequest, "invalid_request")
	// Two keys that differ only in invalid bytes are refused, not merged.
	for _, key := range []string{"hdr\xff", "hdr\xfe"} {
		alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", noKey, "Idempotency-Key", key), http.StatusBadRequest, "invalid_request")
	}

	// Keys are scoped to the user.
	bob := s.user(t, "bob")
	bobs := bob.buy(orderBody(bob.saveCard(visa), fixedPlan, "same"))
	if bobs.ID == o1.ID {
		t.Fatal("bob's key collided with alice's order")
	}
	if got := alice.orders("").Data; len(got) != 2 {
		t.Fatalf("alice has %d orders, want 2", len(got))
	}
}

// TestConcurrentSameKey: fifty racing requests with one key yield one order
// and one charge; each answer is that order or idempotency_key_in_use.
func TestConcurrentSameKey(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	ids, created := raceOneKey(t, []*client{alice}, pm, "race", 50)
	if len(ids) != 1 || created > 1 {
		t.Fatalf("%d distinct orders, %d answers not marked replayed; want one order, at most one first answer", len(ids), created)
	}
	if got := alice.orders("").Data; len(got) != 1 || got[0].Status != "paid" {
		t.Fatalf("listed %+v, want one paid order", got)
	}
	if charges := s.sandboxCharges(t); charges != 1 {
		t.Fatalf("the provider was charged %d times, want once", charges)
	}
}

// raceOneKey sends n order requests with one idempotency key at once, the
// i-th from callers[i%len(callers)], and checks that each answer is the
// order or idempotency_key_in_use. It returns the order ids answered and
// how many answers were not marked replayed.
func raceOneKey(t *testing.T, callers []*client, pm, key string, n int) (ids map[string]bool, created int) {
	t.Helper()
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = callers[i%len(callers)].call(http.MethodPost, "/v1/me/wallet/orders", orderBody(pm, fixedPlan, key))
		}()
	}
	wg.Wait()
	ids = map[string]bool{}
	for _, a := range answers {
		switch code, _ := a.errCode(); {
		case a.status == http.StatusCreated:
			var o order
			a.decode(t, &o)
			ids[o.ID] = true
			if a.header.Get("Idempotent-Replayed") != "true" {
				created++
			}
		case a.status == http.StatusConflict && code == "idempotency_key_in_use":
		default:
			t.Fatalf("racing request answered %d %s", a.status, a.body)
		}
	}
	return ids, created
}

func TestOrderListSortingAndPaging(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	amounts := []int64{3000, 500, 3000, 9000, 500, 1200, 3000}
	for i, amt := range amounts {
		b := orderBody(pm, customPlan, fmt.Sprintf("k%d", i))
		b["amount"] = amt
		alice.buy(b)
	}
	all := alice.orders("?limit=100").Data
	if len(all) != len(amounts) {
		t.Fatalf("listed %d orders, want %d", len(all), len(amounts))
	}
	for _, tc := range []struct {
		query string
		less  func(a, b order) bool
	}{
		{"", func(a, b order) bool { return after(a, b) }},
		{"order_by_desc=created_at", func(a, b order) bool { return after(a, b) }},
		{"order_by_asc=created_at", func(a, b order) bool { return after(b, a) }},
		{"order_by_asc=amount", func(a, b order) bool { return a.Amount < b.Amount || a.Amount == b.Amount && a.ID < b.ID }},
		{"order_by_desc=amount", func(a, b order) bool { return a.Amount > b.Amount || a.Amount == b.Amount && a.ID > b.ID }},
	} {
		want := append([]order(nil), all...)
		sort.Slice(want, func(i, j int) bool { return tc.less(want[i], want[j]) })
		var got []string
		for cursor := ""; ; {
			q := "?limit=2&" + tc.query
			if cursor != "" {
				q += "&after_public_id=" + cursor
			}
			page := alice.orders(q)
			for _, o := range page.Data {
				got = append(got, o.ID)
			}
			if !page.HasMore {
				break
			}
			cursor = page.NextCursor
		}
		if strings.Join(got, ",") != strings.Join(ids(want), ",") {
			t.Errorf("%q paged as %v, want %v", tc.query, got, ids(want))
		}
	}
	bobsOrder := s.user(t, "bob")
	bo := bobsOrder.buy(orderBody(bobsOrder.saveCard(visa), fixedPlan, "b1"))
	for _, q := range []string{"order_by_asc=created_at&order_by_desc=amount", "order_by_desc=plan_id", "order_by_asc=",
		"after_public_id=ord_00000000000000000000000000000000", "after_public_id=" + bo.ID, "after_public_id=garbage", "limit=0", "limit=101"} {
		a := alice.call(http.MethodGet, "/v1/me/wallet/orders?"+q, nil)
		alice.want(a, http.StatusBadRequest, "invalid_request")
	}
}

func after(a, b order) bool {
	return a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID
}

func ids(orders []order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

func TestRefunds(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	o := alice.buy(orderBody(pm, fixedPlan, "k1"))

	bob := s.user(t, "bob")
	bob.want(bob.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusNotFound, "not_found")
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/ord_00000000000000000000000000000000/refund", nil), http.StatusNotFound, "not_found")
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/nonsense/refund", nil), http.StatusNotFound, "not_found")

	var refunded order
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "").decode(t, &refunded)
	if refunded.Status != "refunded" || refunded.IsRefundable || refunded.RefundedAt == nil {
		t.Fatalf("refunded order = %+v", refunded)
	}
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusConflict, "order_not_refundable")

	// Concurrent refunds of one order: one succeeds, the rest are refused.
	o2 := alice.buy(orderBody(pm, fixedPlan, "k2"))
	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o2.ID+"/refund", nil).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
		default:
			t.Fatalf("concurrent refund answered %d", st)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent refunds succeeded, want 1", ok)
	}
	if refunds := s.sandboxRefunds(t); refunds != 2 {
		t.Fatalf("the provider refunded %d times for two orders, want 2", refunds)
	}
}

// TestErrorMessagesAreNotHTMLEscaped: a message reads as written, `<` and
// `>` included, not as \u003c and \u003e.
func TestErrorMessagesAreNotHTMLEscaped(t *testing.T) {
	s := startService(t, t.TempDir())
	resp, err := apiClient.Get(s.base + "/v1/me/wallet/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Bearer <token>") {
		t.Fatalf("401 answer %s, want its message with <token> as written", body)
	}
}

// TestUnknownQueryParametersAreRefused: a query parameter a route does not
// define is a 400 naming it, so ?cursor= on the orders list (which pages
// with after_public_id) cannot silently answer the first page again.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	for path, param := range map[string]string{
		"/v1/me/wallet/orders?cursor=ord_x":           "cursor",
		"/v1/me/payment-methods?after_public_id=pm_x": "after_public_id",
		"/v1/me/wallet/subscriptions?limit=5&sort=x":  "sort",
		"/v1/plans?page=2":                            "page",
		"/v1/me/test_clock?now=1":                     "now",
	} {
		a := alice.want(alice.call(http.MethodGet, path, nil), http.StatusBadRequest, "invalid_request")
		if _, got := a.errCode(); got != param {
			t.Errorf("GET %s: param %q, want %q", path, got, param)
		}
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders?limit=5&order_by_asc=amount", nil), http.StatusOK, "")
}

// TestMoneyInMessagesReadsAsMoney: 4900 usd reads $49.00 in a refusal,
// not as a number of dollars.
func TestMoneyInMessagesReadsAsMoney(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	body := orderBody(pm, fixedPlan, "k")
	body["amount"] = 5000
	a := alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders", body), http.StatusUnprocessableEntity, "amount_not_allowed")
	if !strings.Contains(string(a.body), "$49.00") || strings.Contains(string(a.body), "4900 usd") {
		t.Fatalf("the refusal %s does not show the price as $49.00", a.body)
	}
}
