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
	sub := alice.subscriptions()[0]
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
	sub = alice.subscriptions()[0]
	if sub.Status != "active" || !sub.CurrentPeriodStart.Equal(end.AddDate(0, 2, 0)) {
		t.Fatalf("subscription after three renewals = %+v", sub)
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
