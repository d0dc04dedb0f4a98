package projections_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/robotlabor/billing/projections"
)

// TestRowsMarshalAsTheAPIShowsThem: the fields of api.md, absent values as
// null, and never the owner's id.
func TestRowsMarshalAsTheAPIShowsThem(t *testing.T) {
	refunded := t0.Add(time.Hour)
	for _, tc := range []struct {
		row  any
		want string
	}{
		{projections.Order{ID: "ord_1", UserID: "user_1", PlanID: "plan_1", Status: "pending", Currency: "usd", Amount: 4900,
			CreatedAt: t0, PaymentMethodID: "pm_1"},
			`{"id":"ord_1","plan_id":"plan_1","status":"pending","currency":"usd","amount":4900,"is_refundable":false,` +
				`"created_at":"2026-03-02T09:15:00Z","payment_method_id":"pm_1","subscription_id":null,"failure_code":null,"refunded_at":null}`},
		{projections.Order{ID: "ord_1", PlanID: "plan_1", Status: "refunded", Currency: "usd", Amount: 4900, CreatedAt: t0,
			PaymentMethodID: "pm_1", SubscriptionID: ptr("sub_1"), RefundedAt: &refunded},
			`{"id":"ord_1","plan_id":"plan_1","status":"refunded","currency":"usd","amount":4900,"is_refundable":false,` +
				`"created_at":"2026-03-02T09:15:00Z","payment_method_id":"pm_1","subscription_id":"sub_1","failure_code":null,"refunded_at":"2026-03-02T10:15:00Z"}`},
		{projections.Subscription{ID: "sub_1", PlanID: "plan_1", OrderID: "ord_1", Status: "incomplete", CreatedAt: t0, PaymentMethodID: "pm_1"},
			`{"id":"sub_1","plan_id":"plan_1","order_id":"ord_1","status":"incomplete","current_period_start":null,` +
				`"current_period_end":null,"canceled_at":null,"created_at":"2026-03-02T09:15:00Z",` +
				`"payment_method_id":"pm_1","cancel_at_period_end":false,"cancel_reason":null}`},
		{projections.PaymentMethod{ID: "pm_1", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, CreatedAt: t0},
			`{"id":"pm_1","brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"created_at":"2026-03-02T09:15:00Z"}`},
	} {
		got, err := json.Marshal(tc.row)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%T:\ngot  %s\nwant %s", tc.row, got, tc.want)
		}
	}
}
