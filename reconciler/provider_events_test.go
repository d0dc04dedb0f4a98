package reconciler_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/reconciler"
)

// notices reads a recorded provider event whose object is a Notice in
// JSON: the provider's news, as an Interpreter would read it.
type notices struct{}

func (notices) Interpret(_ context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	var n payments.Notice
	err := json.Unmarshal(ev.Object, &n)
	return n, err
}

// news records the provider's notice n as a webhook would.
func (f *fixture) news(t *testing.T, id string, n payments.Notice) {
	t.Helper()
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RecordProviderEvent(context.Background(), f.log, payments.ProviderEvent{
		Provider: "fake", ID: id, Type: "news", Created: time.Now(), Object: b}); err != nil {
		t.Fatal(err)
	}
}

// TestARenewalBeforeTheStartIsRecordedIsNotRefunded: the provider renews a
// subscription whose start the ledger has not recorded yet (the start's
// answer unknown, parked): the renewal waits for the start and is recorded
// as the next period, not taken for a charge after the end and refunded.
func TestARenewalBeforeTheStartIsRecordedIsNotRefunded(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
	var o domain.Order
	f.log.Load(ctx, orders[0].Stream(), &o)
	f.news(t, "evt_renewed", payments.Notice{Kind: payments.NoticeSubscriptionRenewed, SubscriptionID: string(o.SubscriptionID),
		ProviderPaymentID: "pi_renewal", InvoiceID: "in_1", Amount: 20900, Currency: "usd"})
	f.p.failNext = 6 // the start's answer is unknown for a while: parked
	f.runConfig(t, reconciler.Config{Provider: f.p, CheckpointPath: "cp.db", Interpreter: notices{}}, orders)

	var s domain.Subscription
	f.log.Load(ctx, o.SubscriptionID.Stream(), &s)
	renewal, err := domain.ParseOrderID(string(renewalOf(t, f, s)))
	if err != nil {
		t.Fatal(err)
	}
	var r domain.Order
	f.log.Load(ctx, renewal.Stream(), &r)
	if s.Status != domain.SubscriptionStatusActive || r.Status != domain.OrderStatusPaid || f.p.refunds != 0 {
		t.Fatalf("subscription %s, renewal order %s, %d refunds; want active, paid, none", s.Status, r.Status, f.p.refunds)
	}
	if r.Money != (domain.Money{Amount: 20900, Currency: "usd"}) {
		t.Fatalf("renewal order of %v, want what the provider charged, 20900 usd", r.Money)
	}
}

// renewalOf is the order that renewed s.
func renewalOf(t *testing.T, f *fixture, s domain.Subscription) domain.OrderID {
	t.Helper()
	evs, err := f.store.ReadStream(context.Background(), s.ID.Stream(), eventstore.Forwards, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range evs {
		if rec.Type == domain.EventSubscriptionRenewed {
			e, err := domain.Decode(rec.Type, rec.Data)
			if err != nil {
				t.Fatal(err)
			}
			return e.(domain.SubscriptionRenewed).RenewalOrderID
		}
	}
	t.Fatalf("%s was never renewed", s.ID)
	return ""
}
