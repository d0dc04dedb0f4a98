package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

func TestSubscriptionLifecycle(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	o := alice.buy(orderBody(alice.saveCard(visa), monthlyPlan, "sub1"))
	if o.Status != "paid" || o.SubscriptionID == nil || o.Amount != 19900 {
		t.Fatalf("first order of a monthly plan = %+v", o)
	}
	subs := alice.subscriptions()
	if len(subs) != 1 {
		t.Fatalf("listed %d subscriptions, want 1", len(subs))
	}
	sub := subs[0]
	if sub.ID != *o.SubscriptionID || sub.OrderID != o.ID || sub.PlanID != monthlyPlan || sub.Status != "active" ||
		sub.CurrentPeriodStart == nil || sub.CurrentPeriodEnd == nil || sub.CanceledAt != nil {
		t.Fatalf("subscription = %+v", sub)
	}
	if got := sub.CurrentPeriodStart.AddDate(0, 1, 0); !got.Equal(*sub.CurrentPeriodEnd) {
		t.Fatalf("period %v..%v is not one month", sub.CurrentPeriodStart, sub.CurrentPeriodEnd)
	}

	bob := s.user(t, "bob")
	bob.want(bob.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+sub.ID, nil), http.StatusNotFound, "not_found")
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/sub_00000000000000000000000000000000", nil), http.StatusNotFound, "not_found")

	var canceled subscription
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+sub.ID, nil), http.StatusOK, "").decode(t, &canceled)
	if canceled.Status != "canceled" || canceled.CanceledAt == nil {
		t.Fatalf("after DELETE: %+v", canceled)
	}
	var again subscription
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+sub.ID, nil), http.StatusOK, "").decode(t, &again)
	if again.Status != "canceled" || !again.CanceledAt.Equal(*canceled.CanceledAt) {
		t.Fatalf("second DELETE changed the subscription: %+v", again)
	}
	if n := countEvents(t, s, domain.SubscriptionID(sub.ID).Stream(), domain.EventSubscriptionCancelRequested); n != 1 {
		t.Fatalf("two DELETEs recorded %d cancellations, want 1", n)
	}
}

// countEvents counts the events of a type in a stream.
func countEvents(t *testing.T, s *service, stream, typ string) int {
	t.Helper()
	evs, err := s.Store.ReadStream(context.Background(), stream, eventstore.Forwards, 0, 1000)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestRefundingTheFirstOrderCancelsTheSubscription(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	o := alice.buy(orderBody(alice.saveCard(visa), monthlyPlan, "sub1"))
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "")
	waitFor(t, s, func() bool {
		subs := alice.subscriptions()
		return len(subs) == 1 && subs[0].Status == "canceled" && subs[0].CanceledAt != nil
	}, "the subscription to be canceled after its first order was refunded")
}

func TestFailedFirstPaymentCancelsTheSubscription(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	o := alice.buy(orderBody(alice.saveCard(declines), monthlyPlan, "sub1"))
	if o.Status != "failed" {
		t.Fatalf("first order on a declining card = %+v", o)
	}
	subs := alice.subscriptions()
	if len(subs) != 1 || subs[0].Status != "canceled" {
		t.Fatalf("after a failed first payment the subscription is %+v, want canceled", subs)
	}
}

// TestDefaultPageSizes: api.md's defaults, 10 saved cards and 20 orders or
// subscriptions a page, and subscriptions paged by cursor like cards.
func TestDefaultPageSizes(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	var pm string
	for range 11 {
		pm = alice.saveCard(visa)
	}
	var cards struct {
		Data    []paymentMethod
		HasMore bool `json:"has_more"`
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(t, &cards)
	if len(cards.Data) != 10 || !cards.HasMore {
		t.Fatalf("default card page: %d cards, has_more %v; want 10, true", len(cards.Data), cards.HasMore)
	}
	for i := range 21 {
		alice.buy(orderBody(pm, monthlyPlan, fmt.Sprintf("sub-%d", i)))
	}
	if page := alice.orders(""); len(page.Data) != 20 || !page.HasMore {
		t.Fatalf("default order page: %d orders, has_more %v; want 20, true", len(page.Data), page.HasMore)
	}
	seen := map[string]bool{}
	for cursor, pages := "", 0; ; pages++ {
		var page struct {
			Data       []subscription
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		alice.want(alice.call(http.MethodGet, "/v1/me/wallet/subscriptions?cursor="+cursor, nil), http.StatusOK, "").decode(t, &page)
		if pages == 0 && len(page.Data) != 20 {
			t.Fatalf("default subscription page: %d, want 20", len(page.Data))
		}
		for _, sub := range page.Data {
			if seen[sub.ID] {
				t.Fatalf("subscription %s listed twice across pages", sub.ID)
			}
			seen[sub.ID] = true
		}
		if !page.HasMore {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 21 {
		t.Fatalf("paged through %d subscriptions, want 21", len(seen))
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/subscriptions?cursor=bogus", nil), http.StatusBadRequest, "invalid_request")
}
