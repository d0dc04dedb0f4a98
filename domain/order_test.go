package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

// Fixtures: alice's order of the 10 robot-hours pack with key "key-1".

func orderID() domain.OrderID { return domain.OrderIDFor(alice, "key-1") }

func orderRef() domain.OrderRef {
	return domain.OrderRef{OrderID: orderID(), UserID: alice, PlanID: "plan_robot_hours_10", Amount: 4900, Currency: "usd"}
}

func placed() domain.OrderPlaced {
	return domain.OrderPlaced{
		OrderRef: orderRef(), PaymentMethodID: card(), IdempotencyKey: "key-1",
		Fingerprint: domain.Fingerprint("plan_robot_hours_10", string(card()), nil), PlacedAt: clock(),
	}
}

func paid() domain.OrderPaid {
	return domain.OrderPaid{OrderRef: orderRef(), ProviderPaymentID: "pi_1", PaidAt: later(time.Second)}
}

func paymentFailed() domain.OrderPaymentFailed {
	return domain.OrderPaymentFailed{OrderRef: orderRef(), FailureCode: "card_declined", FailureMessage: "declined", FailedAt: later(time.Second)}
}

// failedByLedger: failed with code, without a provider's answer.
func failedByLedger(code string) domain.OrderPaymentFailed {
	e := paymentFailed()
	e.FailureCode, e.FailureMessage = code, "nothing was charged"
	return e
}

func refundRequested() domain.RefundRequested {
	return domain.RefundRequested{OrderRef: orderRef(), RefundID: domain.RefundIDFor(orderID()), RequestedAt: later(time.Hour)}
}

func refunded() domain.OrderRefunded {
	return domain.OrderRefunded{OrderRef: orderRef(), RefundID: domain.RefundIDFor(orderID()), ProviderRefundID: "re_provider_1", RefundedAt: later(time.Hour)}
}

func refundFailed() domain.RefundFailed {
	return domain.RefundFailed{OrderRef: orderRef(), RefundID: domain.RefundIDFor(orderID()), FailureCode: "charge_disputed", FailedAt: later(time.Hour)}
}

func orderOf(events ...domain.Event) *domain.Order {
	o := &domain.Order{}
	for _, e := range events {
		o.Apply(e)
	}
	return o
}

// placedFor is the order.placed that alice's request (key, plan, amount)
// decides, charging charged.
func placedFor(key string, plan domain.PlanID, amount *int64, charged int64) domain.OrderPlaced {
	return domain.OrderPlaced{
		OrderRef: domain.OrderRef{
			OrderID: domain.OrderIDFor(alice, key), UserID: alice, PlanID: plan, Amount: charged, Currency: "usd",
		},
		PaymentMethodID: card(), IdempotencyKey: key,
		Fingerprint: domain.Fingerprint(string(plan), string(card()), amount), PlacedAt: clock(),
	}
}

// fleetPurchase is what buying the monthly fleet plan with key "fleet" decides.
func fleetPurchase() []domain.Event {
	order := placedFor("fleet", "plan_fleet_monthly", nil, 19900)
	order.SubscriptionID = subID()
	return events(order, subCreated())
}

func TestPlaceOrder(t *testing.T) {
	buy := func(key, plan string, amount *int64) domain.PlaceOrder {
		return domain.PlaceOrder{UserID: alice, IdempotencyKey: key, PlanID: plan, PaymentMethodID: string(card()), Amount: amount}
	}
	fixed, custom := "plan_robot_hours_10", "plan_robot_hours_custom"
	longKey := strings.Repeat("é", 255)
	tests := []struct {
		name    string
		when    domain.PlaceOrder
		want    []domain.Event
		wantErr error
	}{
		{"fixed price, amount omitted", buy("k", fixed, nil), events(placedFor("k", "plan_robot_hours_10", nil, 4900)), nil},
		{"fixed price, amount equal to the price", buy("k", fixed, ptr(4900)), events(placedFor("k", "plan_robot_hours_10", ptr(4900), 4900)), nil},
		{"fixed price, another amount", buy("k", fixed, ptr(5000)), nil, domain.ErrAmountNotAllowed},
		{"fixed price, zero amount", buy("k", fixed, ptr(0)), nil, domain.ErrAmountNotAllowed},
		{"custom amount within range", buy("k", custom, ptr(12345)), events(placedFor("k", "plan_robot_hours_custom", ptr(12345), 12345)), nil},
		{"custom amount at min", buy("k", custom, ptr(500)), events(placedFor("k", "plan_robot_hours_custom", ptr(500), 500)), nil},
		{"custom amount at max", buy("k", custom, ptr(500000)), events(placedFor("k", "plan_robot_hours_custom", ptr(500000), 500000)), nil},
		{"custom amount omitted", buy("k", custom, nil), nil, invalid("amount")},
		{"custom amount below min", buy("k", custom, ptr(499)), nil, domain.ErrAmountOutOfRange},
		{"custom amount above max", buy("k", custom, ptr(500001)), nil, domain.ErrAmountOutOfRange},
		{"negative amount", buy("k", custom, ptr(-1)), nil, invalid("amount")},
		{"recurring plan starts a subscription", buy("fleet", "plan_fleet_monthly", nil), fleetPurchase(), nil},
		{"key of 255 characters", buy(longKey, fixed, nil), events(placedFor(longKey, "plan_robot_hours_10", nil, 4900)), nil},
		{"empty key", buy("", fixed, nil), nil, invalid("idempotency_key")},
		{"key of 256 characters", buy(longKey+"x", fixed, nil), nil, invalid("idempotency_key")},
		{"no plan", buy("k", "", nil), nil, invalid("plan_id")},
		{"unknown plan", buy("k", "plan_nope", nil), nil, domain.ErrPlanNotFound},
		{"no payment method", domain.PlaceOrder{UserID: alice, IdempotencyKey: "k", PlanID: fixed}, nil, invalid("payment_method_id")},
		{"no user", domain.PlaceOrder{IdempotencyKey: "k", PlanID: fixed, PaymentMethodID: string(card())}, nil, invalid("user_id")},
		{"user id with NUL", domain.PlaceOrder{UserID: "a\x00b", IdempotencyKey: "k", PlanID: fixed, PaymentMethodID: string(card())}, nil, invalid("user_id")},
		{"card not in the wallet", domain.PlaceOrder{UserID: alice, IdempotencyKey: "k", PlanID: fixed, PaymentMethodID: "pm_00000000000000000000000000000000"}, nil, domain.ErrPaymentMethodNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.when.Decide(defaultCatalog(t), aliceWallet(), clock())
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestPlaceOrderNeedsAnAttachedCardOfTheUser(t *testing.T) {
	cmd := domain.PlaceOrder{UserID: alice, IdempotencyKey: "k", PlanID: "plan_robot_hours_10", PaymentMethodID: string(card())}
	wallets := map[string]*domain.Wallet{
		"card detached":         walletOf(alice, setupStarted(alice), cardAttached(alice), cardDetached()),
		"another user's wallet": walletOf(bob, setupStarted(bob), cardAttached(bob)),
		"no wallet":             nil,
	}
	for name, wallet := range wallets {
		t.Run(name, func(t *testing.T) {
			got, err := cmd.Decide(defaultCatalog(t), wallet, clock())
			then(t, got, err, nil, domain.ErrPaymentMethodNotFound)
		})
	}
}

func TestPlaceOrderRefusesRetiredPlan(t *testing.T) {
	catalog := defaultCatalog(t)
	catalog.Apply(domain.PlanRetired{PlanID: "plan_robot_hours_10"})
	cmd := domain.PlaceOrder{UserID: alice, IdempotencyKey: "k", PlanID: "plan_robot_hours_10", PaymentMethodID: string(card())}

	got, err := cmd.Decide(catalog, aliceWallet(), clock())

	then(t, got, err, nil, domain.ErrPlanNotFound)
}

func TestPlaceOrderReplayIsRecognisedByFingerprint(t *testing.T) {
	first := domain.PlaceOrder{UserID: alice, IdempotencyKey: "key-1", PlanID: "plan_robot_hours_10", PaymentMethodID: string(card())}
	events, err := first.Decide(defaultCatalog(t), aliceWallet(), clock())
	if err != nil {
		t.Fatal(err)
	}
	order := orderOf(events...)

	retry := first
	reused := first
	reused.Amount = ptr(4900)

	if got, want := retry.OrderID(), order.ID; got != want {
		t.Errorf("retry order id = %s, want %s", got, want)
	}
	if retry.Fingerprint() != order.Fingerprint {
		t.Errorf("a retry with the same body must have the recorded fingerprint")
	}
	if reused.OrderID() != order.ID || reused.Fingerprint() == order.Fingerprint {
		t.Errorf("the same key with another body must map to the same order with another fingerprint")
	}
	if got, want := domain.PlacedEventID(order.ID), domain.PlacedEventID(retry.OrderID()); got != want {
		t.Errorf("first event id differs between retries: %s vs %s", got, want)
	}
}

func TestPay(t *testing.T) {
	pay := func(id string) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.Pay(id, later(time.Second)) }
	}
	given(t, orderOf, pay("pi_1"), []spec{
		{"a pending order is paid", events(placed()), events(paid()), nil},
		{"a paid order again: nothing", events(placed(), paid()), nil, nil},
		{"an order whose refund is pending: nothing", events(placed(), paid(), refundRequested()), nil, nil},
		{"a refunded order: nothing", events(placed(), paid(), refundRequested(), refunded()), nil, nil},
		{"an order the provider declined", events(placed(), paymentFailed()), nil, domain.ErrInvalidTransition},
		{"an order the ledger failed uncalled (the provider's word wins)", events(placed(), failedByLedger(domain.FailureSubscriptionCanceled)), events(paid()), nil},
		{"an order failed as expired (the provider's word wins)", events(placed(), failedByLedger(domain.FailurePaymentExpired)), events(paid()), nil},
		{"an order never placed", nil, nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, pay("pi_2"), []spec{
		{"a paid order, by another payment", events(placed(), paid()), nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, pay(""), []spec{
		{"without a payment id", events(placed()), nil, invalid("provider_payment_id")},
	})
}

func TestFailPayment(t *testing.T) {
	fail := func(code string) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) {
			return o.FailPayment(code, "declined", later(time.Second))
		}
	}
	given(t, orderOf, fail("card_declined"), []spec{
		{"a pending order fails", events(placed()), events(paymentFailed()), nil},
		{"a failed order again: nothing", events(placed(), paymentFailed()), nil, nil},
		{"a paid order", events(placed(), paid()), nil, domain.ErrInvalidTransition},
		{"an order whose refund is pending", events(placed(), paid(), refundRequested()), nil, domain.ErrInvalidTransition},
		{"a refunded order", events(placed(), paid(), refundRequested(), refunded()), nil, domain.ErrInvalidTransition},
		{"an order never placed", nil, nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, fail(""), []spec{
		{"without a code", events(placed()), nil, invalid("failure_code")},
	})
}

func TestRequestRefund(t *testing.T) {
	request := func(o *domain.Order) ([]domain.Event, error) { return o.RequestRefund(later(time.Hour)) }
	given(t, orderOf, request, []spec{
		{"a paid order", events(placed(), paid()), events(refundRequested()), nil},
		{"again after a failed refund", events(placed(), paid(), refundRequested(), refundFailed()), events(refundRequested()), nil},
		{"a pending order", events(placed()), nil, domain.ErrOrderNotRefundable},
		{"a failed order", events(placed(), paymentFailed()), nil, domain.ErrOrderNotRefundable},
		{"a refund already pending", events(placed(), paid(), refundRequested()), nil, domain.ErrOrderNotRefundable},
		{"a refunded order", events(placed(), paid(), refundRequested(), refunded()), nil, domain.ErrOrderNotRefundable},
		{"an order never placed", nil, nil, domain.ErrOrderNotRefundable},
	})
}

func TestCompleteRefund(t *testing.T) {
	complete := func(id string) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.CompleteRefund(id, later(time.Hour)) }
	}
	given(t, orderOf, complete("re_provider_1"), []spec{
		{"a pending refund completes", events(placed(), paid(), refundRequested()), events(refunded()), nil},
		{"a completed refund again: nothing", events(placed(), paid(), refundRequested(), refunded()), nil, nil},
		{"a refund never requested", events(placed(), paid()), nil, domain.ErrInvalidTransition},
		{"a pending order", events(placed()), nil, domain.ErrInvalidTransition},
		{"a failed order", events(placed(), paymentFailed()), nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, complete(""), []spec{
		{"without the provider's refund id", events(placed(), paid(), refundRequested()), nil, invalid("provider_refund_id")},
	})
}

func TestRefundedByProvider(t *testing.T) {
	byProvider := func(o *domain.Order) ([]domain.Event, error) {
		return o.RefundedByProvider("re_provider_1", later(time.Hour))
	}
	given(t, orderOf, byProvider, []spec{
		{"the refund the ledger asked for", events(placed(), paid(), refundRequested()), events(refunded()), nil},
		{"a refund made in the dashboard", events(placed(), paid()), events(refundRequested(), refunded()), nil},
		{"after a failed refund", events(placed(), paid(), refundRequested(), refundFailed()), events(refundRequested(), refunded()), nil},
		{"already refunded: nothing", events(placed(), paid(), refundRequested(), refunded()), nil, nil},
		{"a pending order", events(placed()), nil, domain.ErrInvalidTransition},
		{"a failed order", events(placed(), paymentFailed()), nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, func(o *domain.Order) ([]domain.Event, error) { return o.RefundedByProvider("", later(time.Hour)) }, []spec{
		{"without the provider's refund id", events(placed(), paid()), nil, invalid("provider_refund_id")},
	})
}

func TestFailRefund(t *testing.T) {
	fail := func(code string) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.FailRefund(code, later(time.Hour)) }
	}
	given(t, orderOf, fail("charge_disputed"), []spec{
		{"a pending refund fails", events(placed(), paid(), refundRequested()), events(refundFailed()), nil},
		{"a failed refund again: nothing", events(placed(), paid(), refundRequested(), refundFailed()), nil, nil},
		{"a refund never requested", events(placed(), paid()), nil, domain.ErrInvalidTransition},
		{"a completed refund", events(placed(), paid(), refundRequested(), refunded()), nil, domain.ErrInvalidTransition},
		{"a pending order", events(placed()), nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, fail(""), []spec{
		{"without a code", events(placed(), paid(), refundRequested()), nil, invalid("failure_code")},
	})
}

func TestOrderState(t *testing.T) {
	tests := []struct {
		name           string
		given          []domain.Event
		wantStatus     domain.OrderStatus
		wantRefundable bool
	}{
		{"placed", []domain.Event{placed()}, domain.OrderStatusPending, false},
		{"paid", []domain.Event{placed(), paid()}, domain.OrderStatusPaid, true},
		{"payment failed", []domain.Event{placed(), paymentFailed()}, domain.OrderStatusFailed, false},
		{"refund requested", []domain.Event{placed(), paid(), refundRequested()}, domain.OrderStatusRefundPending, false},
		{"refunded", []domain.Event{placed(), paid(), refundRequested(), refunded()}, domain.OrderStatusRefunded, false},
		{"refund failed", []domain.Event{placed(), paid(), refundRequested(), refundFailed()}, domain.OrderStatusPaid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := orderOf(tt.given...)
			if got.Status != tt.wantStatus || got.IsRefundable() != tt.wantRefundable {
				t.Errorf("status %s refundable %v, want %s %v", got.Status, got.IsRefundable(), tt.wantStatus, tt.wantRefundable)
			}
		})
	}
}

func TestOrderAppliesEveryField(t *testing.T) {
	got := orderOf(placed(), paid(), refundRequested(), refunded())

	want := domain.Order{
		ID: orderID(), UserID: alice, PlanID: "plan_robot_hours_10", Money: domain.Money{Amount: 4900, Currency: "usd"},
		PaymentMethodID: card(), Status: domain.OrderStatusRefunded, ProviderPaymentID: "pi_1", PaidAt: later(time.Second),
		RefundID: domain.RefundIDFor(orderID()), ProviderRefundID: "re_provider_1", RefundedAt: later(time.Hour),
		CreatedAt: clock(), IdempotencyKey: "key-1", Fingerprint: placed().Fingerprint,
	}
	if *got != want {
		t.Errorf("order\n got %+v\nwant %+v", *got, want)
	}
}
