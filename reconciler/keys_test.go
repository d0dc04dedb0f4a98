package reconciler_test

import (
	"context"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// forgetfulProvider is provider with Stripe's memory: forget drops every
// idempotency key, as a day does at Stripe, after which a call with one
// is a new call; what the calls made can be found by order, as Stripe
// lists its PaymentIntents and subscriptions.
type forgetfulProvider struct {
	*provider
}

func (p *forgetfulProvider) KeyLifetime() time.Duration { return 24 * time.Hour }

func (p *forgetfulProvider) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results = map[string]any{}
}

func (p *forgetfulProvider) FindCharge(_ context.Context, f payments.FindPayment) (payments.ChargeResult, bool, error) {
	v, ok := p.find(f.OrderID)
	if !ok {
		return payments.ChargeResult{}, false, nil
	}
	return v.(payments.ChargeResult), true, nil
}

func (p *forgetfulProvider) FindRefund(_ context.Context, f payments.FindRefund) (payments.RefundResult, bool, error) {
	v, ok := p.find(f.ProviderPaymentID)
	if !ok {
		return payments.RefundResult{}, false, nil
	}
	return v.(payments.RefundResult), true, nil
}

// TestPastTheKeyLifetimePaymentsAreLookedUpNotMadeAgain: orders whose
// outcome stayed unknown for 21 hours (the provider's answers lost) are
// settled from the provider's records, never by a call with a key it has
// forgotten: the order it charged is paid with that charge, the order it
// never saw fails uncharged, and the subscription it started is active.
func TestPastTheKeyLifetimePaymentsAreLookedUpNotMadeAgain(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	p := &forgetfulProvider{provider: f.p}
	f.recordAt(t, -21*time.Hour)
	f.log = app.NewLog(f.store, func() time.Time { return time.Now().Add(-21 * time.Hour) })
	orders := f.placeOrders(t, "alice", 2, "plan_robot_hours_10")
	sub := f.placeOrders(t, "bob", 1, "plan_fleet_monthly")
	// 21 hours ago the provider charged the first order and started the
	// subscription, and their answers were lost; it has since forgotten
	// the keys.
	charged, err := p.Charge(ctx, payments.Charge{OrderID: string(orders[0]), IdempotencyKey: "lost", Amount: 4900})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.StartSubscription(ctx, payments.StartSubscription{OrderID: string(sub[0]), IdempotencyKey: "lost sub"}); err != nil {
		t.Fatal(err)
	}
	p.forget()
	f.log = app.NewLog(f.store, time.Now)
	f.runWith(t, "cp.db", p, append(orders, sub...))

	if p.charges != 2 {
		t.Fatalf("the provider charged %d times, want the 2 charges of 21 hours ago only", p.charges)
	}
	var paid, unseen domain.Order
	f.log.Load(ctx, orders[0].Stream(), &paid)
	f.log.Load(ctx, orders[1].Stream(), &unseen)
	if paid.Status != domain.OrderStatusPaid || paid.ProviderPaymentID != charged.ProviderPaymentID {
		t.Errorf("the charged order is %s with payment %q, want paid with %q", paid.Status, paid.ProviderPaymentID, charged.ProviderPaymentID)
	}
	if unseen.Status != domain.OrderStatusFailed || unseen.FailureCode != domain.FailurePaymentExpired {
		t.Errorf("the order the provider never saw is %s (%q), want failed with %s", unseen.Status, unseen.FailureCode, domain.FailurePaymentExpired)
	}
	var o domain.Order
	f.log.Load(ctx, sub[0].Stream(), &o)
	var s domain.Subscription
	f.log.Load(ctx, o.SubscriptionID.Stream(), &s)
	if o.Status != domain.OrderStatusPaid || s.Status != domain.SubscriptionStatusActive || s.ProviderSubscriptionID == "" {
		t.Errorf("the started subscription's order is %s, subscription %s (provider id %q), want paid and active", o.Status, s.Status, s.ProviderSubscriptionID)
	}

	// Within the key's life the key is used, not a lookup.
	lookups := p.lookups
	f.recordAt(t, 0)
	fresh := f.placeOrders(t, "carol", 1, "plan_robot_hours_10")
	f.runWith(t, "cp.db", p, fresh)
	if p.lookups != lookups || p.charges != 3 {
		t.Fatalf("a fresh order made %d lookups and %d charges, want a keyed charge", p.lookups-lookups, p.charges-2)
	}
}

// TestPastTheKeyLifetimeARefundIsLookedUp: a refund whose answer was lost
// 21 hours ago is found at the provider and recorded, not asked again.
func TestPastTheKeyLifetimeARefundIsLookedUp(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	p := &forgetfulProvider{provider: f.p}
	f.log = app.NewLog(f.store, time.Now)
	orders := f.placeOrders(t, "alice", 1, "plan_robot_hours_10")
	f.runWith(t, "cp.db", p, orders)
	var o domain.Order
	f.log.Load(ctx, orders[0].Stream(), &o)

	f.recordAt(t, -21*time.Hour)
	f.log = app.NewLog(f.store, func() time.Time { return time.Now().Add(-21 * time.Hour) })
	if _, err := (&app.Service{Log: f.log}).RequestRefund(ctx, "alice", orders[0], app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Refund(ctx, payments.Refund{ProviderPaymentID: o.ProviderPaymentID, IdempotencyKey: "lost"}); err != nil {
		t.Fatal(err)
	}
	p.forget()
	f.recordAt(t, 0)
	f.log = app.NewLog(f.store, time.Now)
	f.runWith(t, "cp.db", p, orders)
	f.log.Load(ctx, orders[0].Stream(), &o)
	if o.Status != domain.OrderStatusRefunded || p.refunds != 1 {
		t.Fatalf("order %s after %d refunds, want refunded once", o.Status, p.refunds)
	}
}

// TestASubscriptionCanceledBeforeItsFirstPaymentIsNotStarted: canceled
// before the reconciler came to its first order, a subscription is not
// started (no money moves at all); had a call started it before the
// cancellation, that start is found and undone.
func TestASubscriptionCanceledBeforeItsFirstPaymentIsNotStarted(t *testing.T) {
	for _, startedBefore := range []bool{false, true} {
		t.Run(map[bool]string{false: "never started", true: "started before"}[startedBefore], func(t *testing.T) {
			ctx := context.Background()
			f := setup(t)
			f.log = app.NewLog(f.store, time.Now)
			orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
			var o domain.Order
			f.log.Load(ctx, orders[0].Stream(), &o)
			if startedBefore {
				recs, err := f.store.ReadStream(ctx, orders[0].Stream(), eventstore.Forwards, 0, 1)
				if err != nil {
					t.Fatal(err)
				}
				key := "order_" + recs[0].ID.String() // the reconciler's, its answer lost
				if _, err := f.p.StartSubscription(ctx, payments.StartSubscription{OrderID: string(orders[0]), IdempotencyKey: key}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := (&app.Service{Log: f.log}).CancelSubscription(ctx, "alice", o.SubscriptionID, app.Metadata{}); err != nil {
				t.Fatal(err)
			}
			f.run(t, "cp.db", orders)

			f.log.Load(ctx, orders[0].Stream(), &o)
			var s domain.Subscription
			f.log.Load(ctx, o.SubscriptionID.Stream(), &s)
			if s.Status != domain.SubscriptionStatusCanceled {
				t.Fatalf("subscription %s, want canceled", s.Status)
			}
			switch {
			case !startedBefore && (f.p.charges != 0 || o.Status != domain.OrderStatusFailed || o.FailureCode != domain.FailureSubscriptionCanceled):
				t.Fatalf("%d charges, order %s (%q); want no charge and the order failed with %s", f.p.charges, o.Status, o.FailureCode, domain.FailureSubscriptionCanceled)
			case startedBefore && (f.p.charges != 1 || f.p.refunds != 1 || f.p.cancels != 1 || o.Status != domain.OrderStatusRefunded):
				t.Fatalf("%d charges, %d refunds, %d provider cancels, order %s; want the start undone: refunded and ended", f.p.charges, f.p.refunds, f.p.cancels, o.Status)
			}
		})
	}
}
