package main

import (
	"net/http"
	"testing"
	"time"
)

type testClock struct {
	Now    time.Time `json:"now"`
	Frozen bool      `json:"frozen"`
	Status string    `json:"status"`
}

// TestTestClockRenewsMonthByMonth is the README's walk: buy the monthly
// plan, advance the clock three months, find three paid renewal orders at
// the period boundaries and the subscription in its fourth period; the
// clock is frozen where it was put and cannot go back.
func TestTestClockRenewsMonthByMonth(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	var clock testClock
	alice.want(alice.call(http.MethodGet, "/v1/me/test_clock", nil), http.StatusOK, "").decode(t, &clock)
	if clock.Frozen || clock.Status != "ready" || time.Since(clock.Now) > time.Minute {
		t.Fatalf("a new user's clock = %+v, want the real time, not frozen, ready", clock)
	}
	first := alice.buy(orderBody(alice.saveCard(visa), monthlyPlan, "fleet"))
	sub := alice.newestSubscription()
	end := *sub.CurrentPeriodEnd
	to := end.AddDate(0, 2, 1)
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": to.Format(time.RFC3339Nano)}),
		http.StatusOK, "").decode(t, &clock)
	if !clock.Now.Equal(to) || !clock.Frozen || clock.Status != "ready" {
		t.Fatalf("after the advance the clock = %+v, want frozen at %v", clock, to)
	}
	orders := alice.orders("?order_by_asc=created_at").Data
	if len(orders) != 4 || orders[0].ID != first.ID {
		t.Fatalf("%d orders after three months, want the first and three renewals", len(orders))
	}
	for i, o := range orders[1:] {
		boundary := end.AddDate(0, i, 0)
		if o.Status != "paid" || !o.CreatedAt.Equal(boundary) || o.SubscriptionID == nil || *o.SubscriptionID != sub.ID {
			t.Fatalf("renewal %d = %+v, want paid at the boundary %v", i+1, o, boundary)
		}
	}
	sub = alice.newestSubscription()
	if sub.Status != "active" || !sub.CurrentPeriodStart.Equal(end.AddDate(0, 2, 0)) {
		t.Fatalf("subscription after three renewals = %+v", sub)
	}
	// A renewal refunds its period's payment only: the subscription goes on.
	var refunded order
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+orders[1].ID+"/refund", nil), http.StatusOK, "").decode(t, &refunded)
	if refunded.Status != "refunded" {
		t.Fatalf("refunding a renewal order: %+v", refunded)
	}
	waitFor(t, s, func() bool { return alice.newestSubscription().Status == "active" }, "the subscription")
	if got := alice.newestSubscription(); got.Status != "active" || got.CancelReason != nil {
		t.Fatalf("after refunding a renewal the subscription is %+v, want active", got)
	}
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": end.Format(time.RFC3339)}),
		http.StatusUnprocessableEntity, "clock_cannot_go_back")
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": "next month"}),
		http.StatusUnprocessableEntity, "validation_failed")
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": to.AddDate(3, 0, 0).Format(time.RFC3339)}),
		http.StatusUnprocessableEntity, "validation_failed")
	// Bob's clock did not move.
	bob := s.user(t, "bob")
	bob.want(bob.call(http.MethodGet, "/v1/me/test_clock", nil), http.StatusOK, "").decode(t, &clock)
	if clock.Frozen {
		t.Fatalf("another user's clock moved: %+v", clock)
	}
}

// TestCancelAtPeriodEndAndCardChanges is the rest of the README's walk: a
// subscription canceled at its period's end stays active, is not renewed
// and ends at the boundary; taken back, it renews. A renewal declined on a
// card that fails makes it past_due; changing the card retries at once
// and recovers it.
func TestCancelAtPeriodEndAndCardChanges(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	good, bad := alice.saveCard(visa), alice.saveCard(declines)
	alice.buy(orderBody(good, monthlyPlan, "fleet"))
	sub := alice.newestSubscription()
	path := "/v1/me/wallet/subscriptions/" + sub.ID
	end := *sub.CurrentPeriodEnd
	advance := func(to time.Time) {
		t.Helper()
		alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": to.Format(time.RFC3339Nano)}), http.StatusOK, "")
	}

	var got subscription
	alice.want(alice.call(http.MethodDelete, path+"?at_period_end=true", nil), http.StatusOK, "").decode(t, &got)
	if got.Status != "active" || !got.CancelAtPeriodEnd || got.CanceledAt != nil {
		t.Fatalf("after DELETE ?at_period_end=true: %+v, want active, cancel_at_period_end", got)
	}
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"cancel_at_period_end": false}), http.StatusOK, "").decode(t, &got)
	if got.CancelAtPeriodEnd {
		t.Fatalf("PATCH cancel_at_period_end false: %+v", got)
	}
	alice.want(alice.call(http.MethodDelete, path+"?at_period_end=maybe", nil), http.StatusBadRequest, "invalid_request")
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"payment_method_id": "pm_00000000000000000000000000000000"}),
		http.StatusUnprocessableEntity, "payment_method_not_found")
	bob := s.user(t, "bob")
	bob.want(bob.call(http.MethodPatch, path, map[string]any{"cancel_at_period_end": true}), http.StatusNotFound, "not_found")

	// Renewals charge the card chosen now; it declines: past_due.
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"payment_method_id": bad}), http.StatusOK, "").decode(t, &got)
	if got.PaymentMethodID != bad {
		t.Fatalf("PATCH payment_method_id: %+v", got)
	}
	advance(end.Add(time.Hour))
	if got = alice.newestSubscription(); got.Status != "past_due" {
		t.Fatalf("a renewal on a declining card left the subscription %s", got.Status)
	}
	renewal := alice.orders("?order_by_desc=created_at").Data[0]
	if renewal.Status != "pending" || renewal.FailureCode == nil {
		t.Fatalf("the declined renewal order = %+v, want pending with its decline", renewal)
	}
	// Back to the good card: retried at once, paid, active for the period
	// that started at the old end.
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"payment_method_id": good}), http.StatusOK, "")
	waitFor(t, s, func() bool { return alice.newestSubscription().Status == "active" }, "the retry with the new card")
	if got = alice.newestSubscription(); !got.CurrentPeriodStart.Equal(end) {
		t.Fatalf("recovered subscription = %+v, want its period from %v", got, end)
	}
	if o := alice.orders("?order_by_desc=created_at").Data[0]; o.ID != renewal.ID || o.Status != "paid" || o.FailureCode != nil {
		t.Fatalf("the renewal order after the retry = %+v, want paid", o)
	}

	// Canceled at the period's end: ends at the boundary, nothing charged.
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"cancel_at_period_end": true}), http.StatusOK, "")
	next := *alice.newestSubscription().CurrentPeriodEnd
	orders := len(alice.orders("?limit=100").Data)
	advance(next.AddDate(0, 1, 0))
	got = alice.newestSubscription()
	if got.Status != "canceled" || got.CanceledAt == nil || !got.CanceledAt.Equal(next) || got.CancelReason == nil || *got.CancelReason != "requested" {
		t.Fatalf("after the period end: %+v, want canceled at %v for requested", got, next)
	}
	if n := len(alice.orders("?limit=100").Data); n != orders {
		t.Fatalf("%d orders after a period end that cancels, want %d: nothing charged", n, orders)
	}
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"payment_method_id": good}), http.StatusConflict, "subscription_canceled")
	alice.want(alice.call(http.MethodPatch, path, map[string]any{"payment_method_id": "pm_00000000000000000000000000000000"}), http.StatusConflict, "subscription_canceled")
}

// TestOneOrderAndOneSubscription: an order and a subscription can be read
// alone, as the lists show them; another user's, or an id that is none,
// is 404.
func TestOneOrderAndOneSubscription(t *testing.T) {
	s := startService(t, t.TempDir())
	alice, bob := s.user(t, "alice"), s.user(t, "bob")
	o := alice.buy(orderBody(alice.saveCard(visa), monthlyPlan, "fleet"))
	var got order
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders/"+o.ID, nil), http.StatusOK, "").decode(t, &got)
	if got.ID != o.ID || got.Status != "paid" || got.SubscriptionID == nil {
		t.Fatalf("GET the order = %+v, want %+v", got, o)
	}
	var sub subscription
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/subscriptions/"+*o.SubscriptionID, nil), http.StatusOK, "").decode(t, &sub)
	if listed := alice.newestSubscription(); sub.ID != listed.ID || sub.Status != listed.Status || !sub.CurrentPeriodEnd.Equal(*listed.CurrentPeriodEnd) {
		t.Fatalf("GET the subscription = %+v, the list shows %+v", sub, listed)
	}
	for _, path := range []string{"/v1/me/wallet/orders/" + o.ID, "/v1/me/wallet/subscriptions/" + *o.SubscriptionID} {
		bob.want(bob.call(http.MethodGet, path, nil), http.StatusNotFound, "not_found")
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders/ord_nope", nil), http.StatusNotFound, "not_found")
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/subscriptions/sub_nope", nil), http.StatusNotFound, "not_found")
}

// TestAnAdvanceLongerThanTheWaitAnswers202: past the bounded wait the
// advance answers 202 advancing, and the clock reads advancing until
// everything due is handled, then ready, with the lists showing it.
func TestAnAdvanceLongerThanTheWaitAnswers202(t *testing.T) {
	t.Setenv("BILLING_OUTCOME_WAIT", "1ns")
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	alice.buy(orderBody(alice.saveCard(visa), monthlyPlan, "fleet"))
	waitFor(t, s, func() bool { subs := alice.subscriptions(); return len(subs) == 1 && subs[0].Status == "active" }, "the subscription to start")
	end := *alice.newestSubscription().CurrentPeriodEnd
	var clock testClock
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": end.AddDate(0, 2, 1).Format(time.RFC3339)}),
		http.StatusAccepted, "").decode(t, &clock)
	if clock.Status != "advancing" {
		t.Fatalf("a 202 advance shows the clock %+v, want advancing", clock)
	}
	eventually(t, func() bool {
		alice.want(alice.call(http.MethodGet, "/v1/me/test_clock", nil), http.StatusOK, "").decode(t, &clock)
		return clock.Status == "ready"
	}, "the advance to finish")
	if n := len(alice.orders("").Data); n != 4 {
		t.Fatalf("%d orders once the clock is ready, want the first and 3 renewals listed", n)
	}
}
