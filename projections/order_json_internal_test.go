package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// TestOrderJSONIsTheTagsJSON: the appended JSON of an order is what
// encoding/json writes from Order's field tags (less HTML escaping), for
// every shape of order: each optional field absent and present, odd
// strings, times with and without fractions and away from UTC.
func TestOrderJSONIsTheTagsJSON(t *testing.T) {
	sub, code := "sub_1", `card_declined <"quoted"> & é`
	refunded := time.Date(2026, 5, 1, 0, 0, 0, 120, time.FixedZone("X", -3600))
	for _, o := range []Order{
		{},
		{ID: "ord_1", PlanID: "plan_1", Status: "pending", Currency: "usd", Amount: 4900, CreatedAt: t0, PaymentMethodID: "pm_1"},
		{ID: "ord_2", UserID: "user_2", PlanID: "plan\n2", Status: "failed", Currency: "jpy", Amount: -1, IsRefundable: true,
			CreatedAt: t0.Add(123456789), PaymentMethodID: "pm_2", SubscriptionID: &sub, FailureCode: &code, RefundedAt: &refunded},
	} {
		got, err := o.MarshalJSON() // json.Marshal would escape it for HTML again
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(orderFields(o)); err != nil {
			t.Fatal(err)
		}
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Errorf("order JSON\ngot  %s\nwant %s", got, w)
		}
	}
}

// TestOrderBodyIsTheOrder: what a page answers for an order is what the
// order reads as, through every state of its life, whether its events
// came in one batch or one at a time.
func TestOrderBodyIsTheOrder(t *testing.T) {
	ref := domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"}
	events := []domain.Event{
		domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", SubscriptionID: "sub_1", PlacedAt: t0},
		domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pay_1", PaidAt: t0},
		domain.RefundRequested{OrderRef: ref, RefundID: "re_1", RequestedAt: t0},
		domain.RefundFailed{OrderRef: ref, RefundID: "re_1", FailureCode: "expired_card", FailedAt: t0},
		domain.RefundRequested{OrderRef: ref, RefundID: "re_1", RequestedAt: t0},
		domain.OrderRefunded{OrderRef: ref, RefundID: "re_1", ProviderRefundID: "pre_1", RefundedAt: t0.Add(time.Minute)},
	}
	for _, batched := range []bool{false, true} {
		rm := openTest(t)
		ctx := context.Background()
		var batch []eventstore.RecordedEvent
		for i, e := range events {
			batch = append(batch, recorded(t, eventstore.Position(i+1), e))
			if batched && i < len(events)-1 {
				continue
			}
			if err := rm.folds.applyBatch(ctx, decode(batch)); err != nil {
				t.Fatal(err)
			}
			batch = nil
			o, err := rm.Order(ctx, "user_1", "ord_1")
			if err != nil {
				t.Fatal(err)
			}
			page, _, err := rm.Orders(ctx, "user_1", OrderQuery{Limit: 10})
			if err != nil || len(page) != 1 {
				t.Fatalf("page %v, %v", page, err)
			}
			want, _ := o.MarshalJSON()
			if !bytes.Equal(page[0].JSON, want) {
				t.Errorf("after %s (batched %v): page shows\n  %s\nthe order reads\n  %s", e.EventType(), batched, page[0].JSON, want)
			}
		}
		if o, err := rm.Order(ctx, "user_1", "ord_1"); err != nil || o.Status != "refunded" || o.RefundedAt == nil || o.IsRefundable {
			t.Errorf("batched %v: %+v, %v; want refunded at a time, not refundable", batched, o, err)
		}
	}
}

// TestAPagesIDsAreItsOrders: a page reads an order's id from its JSON,
// for every id the JSON can hold, the plain ones and those it escapes.
func TestAPagesIDsAreItsOrders(t *testing.T) {
	for _, id := range []string{"ord_1", "", `ord_"quoted"`, `ord_\`, "ord_\n", "ord_é"} {
		body, _ := Order{ID: id, PlanID: "plan_1", CreatedAt: t0}.MarshalJSON()
		if got, err := orderIDOf(body); err != nil || got != id {
			t.Errorf("id of %s = %q, %v; want %q", body, got, err, id)
		}
	}
	if _, err := orderIDOf([]byte(`{"id":`)); err == nil {
		t.Error("a cut body has an id")
	}
}
