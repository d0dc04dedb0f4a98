package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
	"github.com/robotlabor/billing/reconciler"
)

// clock is a time tests move forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// due lists subscriptions as due at any time: the domain decides.
type due []domain.SubscriptionID

func (d due) DueRenewals(_ context.Context, now, after time.Time, _ string, _ int) ([]projections.DueSubscription, error) {
	if !after.IsZero() {
		return nil, nil
	}
	out := make([]projections.DueSubscription, len(d))
	for i, id := range d {
		out[i] = projections.DueSubscription{ID: string(id), DueAt: now}
	}
	return out, nil
}

// renewing starts a subscription of the monthly plan at start, then runs a
// reconciler that bills its renewals on the test's clock, and returns the
// subscription's id and the clock.
func renewing(t *testing.T, f *fixture) (domain.SubscriptionID, *clock) {
	t.Helper()
	id, c, _ := renewingEvery(t, f, 2*time.Millisecond)
	return id, c
}

// renewingEvery is renewing with the scheduler's period; it also returns
// the reconciler.
func renewingEvery(t *testing.T, f *fixture, every time.Duration) (domain.SubscriptionID, *clock, *reconciler.Reconciler) {
	t.Helper()
	c := &clock{t: now}
	f.log = app.NewLog(f.store, c.now)
	f.log.TestClocks = true // the real time (c) until a test advances a user's clock
	orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
	f.run(t, "first.db", orders)
	o, err := app.Orders(f.log).Load(context.Background(), orders[0])
	if err != nil {
		t.Fatal(err)
	}
	r := f.background(t, reconciler.Config{Log: f.log, Provider: f.p, CheckpointPath: "renewals.db",
		Renewals: due{o.SubscriptionID}, RenewEvery: every})
	return o.SubscriptionID, c, r
}

func (f *fixture) subscription(t *testing.T, id domain.SubscriptionID) *domain.Subscription {
	t.Helper()
	s, err := app.Subscriptions(f.log).Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) order(t *testing.T, id domain.OrderID) *domain.Order {
	t.Helper()
	o, err := app.Orders(f.log).Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestTheLedgerRenewsEachPeriodOnce: at each period's end the renewal
// order is placed at the boundary, charged once and the period moves on,
// month after month.
func TestTheLedgerRenewsEachPeriodOnce(t *testing.T) {
	f := setup(t)
	id, c := renewing(t, f)
	for month := 1; month <= 3; month++ {
		end := f.subscription(t, id).CurrentPeriodEnd
		c.set(end)
		eventually(t, "the period to be renewed", func() bool { return f.subscription(t, id).CurrentPeriodStart.Equal(end) })
		renewal := f.order(t, domain.RenewalOrderIDFor(id, end))
		if renewal.Status != domain.OrderStatusPaid || !renewal.CreatedAt.Equal(end) || !renewal.Renewal {
			t.Fatalf("month %d: renewal order %s created %v, want paid at the boundary %v", month, renewal.Status, renewal.CreatedAt, end)
		}
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.charges != 1+3 {
		t.Fatalf("%d charges for a first payment and 3 renewals", f.p.charges)
	}
}

// TestDunningRetriesThenCancels: a declined renewal makes the subscription
// past_due with its order pending and the decline shown; each retry on the
// schedule has its own key; after the last the order fails and the
// subscription is canceled for payment_failed, and nothing more is charged.
func TestDunningRetriesThenCancels(t *testing.T) {
	f := setup(t)
	id, c := renewing(t, f)
	end := f.subscription(t, id).CurrentPeriodEnd
	renewal := domain.RenewalOrderIDFor(id, end)
	f.p.mu.Lock()
	f.p.declines = true
	f.p.mu.Unlock()
	c.set(end)
	eventually(t, "past_due", func() bool { return f.subscription(t, id).Status == domain.SubscriptionStatusPastDue })
	if o := f.order(t, renewal); o.Status != domain.OrderStatusPending || o.FailureCode != "card_declined" {
		t.Fatalf("after a declined renewal the order is %s (%q), want pending with the decline", o.Status, o.FailureCode)
	}
	for i, after := range reconciler.DefaultDunning {
		c.set(end.Add(after))
		eventually(t, "the retry", func() bool {
			s := f.subscription(t, id)
			return s.FailedAttempts == i+2 || s.Status == domain.SubscriptionStatusCanceled
		})
	}
	eventually(t, "the subscription to end", func() bool { return f.subscription(t, id).ProviderCanceled })
	s, o := f.subscription(t, id), f.order(t, renewal)
	if s.Status != domain.SubscriptionStatusCanceled || s.CancelReason != domain.ReasonPaymentFailed || o.Status != domain.OrderStatusFailed {
		t.Fatalf("subscription %s (%s), order %s; want canceled for payment_failed and the order failed", s.Status, s.CancelReason, o.Status)
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	attempts := 0
	for key := range f.p.keys {
		if strings.HasPrefix(key, "renewal_") {
			attempts++
		}
	}
	if attempts != 4 {
		t.Fatalf("%d renewal keys, want one per attempt (4)", attempts)
	}
}

// TestARetryThatSucceedsKeepsThePeriod: paid on the first retry, the
// subscription is active again for the period that started at the old end.
func TestARetryThatSucceedsKeepsThePeriod(t *testing.T) {
	f := setup(t)
	id, c := renewing(t, f)
	end := f.subscription(t, id).CurrentPeriodEnd
	f.p.mu.Lock()
	f.p.declines = true
	f.p.mu.Unlock()
	c.set(end)
	eventually(t, "past_due", func() bool { return f.subscription(t, id).Status == domain.SubscriptionStatusPastDue })
	f.p.mu.Lock()
	f.p.declines = false
	f.p.mu.Unlock()
	c.set(end.Add(30 * time.Hour))
	eventually(t, "renewed", func() bool { return f.subscription(t, id).Status == domain.SubscriptionStatusActive })
	s, o := f.subscription(t, id), f.order(t, domain.RenewalOrderIDFor(id, end))
	if !s.CurrentPeriodStart.Equal(end) || o.Status != domain.OrderStatusPaid || o.FailureCode != "" {
		t.Fatalf("period from %v (want %v), order %s (%q)", s.CurrentPeriodStart, end, o.Status, o.FailureCode)
	}
}

// TestAdvancingATestClockRenewsInTimeOrder: advancing a user's test clock
// three months and a day charges the three renewals at their boundaries,
// each recorded before the next is due, and leaves the clock at the time
// asked; going back is refused.
func TestAdvancingATestClockRenewsInTimeOrder(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	id, _, r := renewingEvery(t, f, time.Hour) // the advance alone renews
	first := f.subscription(t, id).CurrentPeriodEnd
	to := first.AddDate(0, 2, 1)
	if err := r.Advance(ctx, "alice", to, []domain.SubscriptionID{id}, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	s := f.subscription(t, id)
	if !s.CurrentPeriodStart.Equal(first.AddDate(0, 2, 0)) || s.Status != domain.SubscriptionStatusActive {
		t.Fatalf("after the advance the period starts %v (%s), want the third boundary %v", s.CurrentPeriodStart, s.Status, first.AddDate(0, 2, 0))
	}
	for i := range 3 {
		boundary := first.AddDate(0, i, 0)
		if o := f.order(t, domain.RenewalOrderIDFor(id, boundary)); o.Status != domain.OrderStatusPaid || !o.CreatedAt.Equal(boundary) {
			t.Fatalf("renewal %d: %s at %v, want paid at %v", i+1, o.Status, o.CreatedAt, boundary)
		}
	}
	if now, err := f.log.UserNow(ctx, "alice"); err != nil || !now.Equal(to) {
		t.Fatalf("the clock reads %v, %v; want %v", now, err, to)
	}
	if err := r.Advance(ctx, "alice", to.Add(-time.Hour), []domain.SubscriptionID{id}, app.Metadata{}); !errors.Is(err, domain.ErrClockCannotGoBack) {
		t.Fatalf("advancing back: %v, want ErrClockCannotGoBack", err)
	}
}

// TestAdvancingThroughDunning: with a declining card, advancing past the
// whole schedule makes every attempt at its time and cancels the
// subscription at the last one.
func TestAdvancingThroughDunning(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	id, _, r := renewingEvery(t, f, time.Hour)
	end := f.subscription(t, id).CurrentPeriodEnd
	f.p.mu.Lock()
	f.p.declines = true
	f.p.mu.Unlock()
	if err := r.Advance(ctx, "alice", end.AddDate(0, 0, 10), []domain.SubscriptionID{id}, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	s, o := f.subscription(t, id), f.order(t, domain.RenewalOrderIDFor(id, end))
	last := end.Add(reconciler.DefaultDunning[len(reconciler.DefaultDunning)-1])
	if s.Status != domain.SubscriptionStatusCanceled || s.CancelReason != domain.ReasonPaymentFailed || !s.CanceledAt.Equal(last) || o.Status != domain.OrderStatusFailed {
		t.Fatalf("subscription %s (%s) canceled at %v, order %s; want canceled for payment_failed at the last retry %v, the order failed",
			s.Status, s.CancelReason, s.CanceledAt, o.Status, last)
	}
}

// TestTwoInstancesRenewEachPeriodOnce: two reconcilers on one store, each
// with its own log and scheduler, renewing the same subscriptions as fast
// as they can: every period of every subscription is made due once and
// charged once.
func TestTwoInstancesRenewEachPeriodOnce(t *testing.T) {
	f := setup(t)
	c := &clock{t: now}
	f.log = app.NewLog(f.store, c.now)
	orders := f.placeOrders(t, "alice", 10, "plan_fleet_monthly")
	f.run(t, "first.db", orders)
	var ids due
	for _, id := range orders {
		ids = append(ids, f.order(t, id).SubscriptionID)
	}
	for i := range 2 {
		l := app.NewLog(f.store, c.now)
		l.TestClocks = true
		f.background(t, reconciler.Config{Log: l, Provider: f.p, CheckpointPath: fmt.Sprintf("instance%d.db", i),
			Renewals: ids, RenewEvery: time.Millisecond})
	}
	end := f.subscription(t, ids[0]).CurrentPeriodEnd
	for month := range 2 {
		boundary := end.AddDate(0, month, 0)
		c.set(boundary)
		eventually(t, "every subscription renewed", func() bool {
			for _, id := range ids {
				if !f.subscription(t, id).CurrentPeriodStart.Equal(boundary) {
					return false
				}
			}
			return true
		})
	}
	if n := f.count(t, domain.EventSubscriptionRenewalDue); n != 2*len(ids) {
		t.Fatalf("%d renewal_due events for %d subscriptions over 2 periods, want one each", n, len(ids))
	}
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.charges != 3*len(ids) {
		t.Fatalf("%d charges, want %d: a first payment and 2 renewals each", f.p.charges, 3*len(ids))
	}
}

// TestCancelingWhilePastDueFailsTheUnpaidRenewal: a past_due subscription
// canceled by its user is not retried, and its unpaid renewal order fails
// instead of staying pending for ever.
func TestCancelingWhilePastDueFailsTheUnpaidRenewal(t *testing.T) {
	f := setup(t)
	id, c := renewing(t, f)
	end := f.subscription(t, id).CurrentPeriodEnd
	f.p.mu.Lock()
	f.p.declines = true
	f.p.mu.Unlock()
	c.set(end)
	eventually(t, "past_due", func() bool { return f.subscription(t, id).Status == domain.SubscriptionStatusPastDue })
	if _, err := (&app.Service{Log: f.log}).CancelSubscription(context.Background(), "alice", id, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	renewal := domain.RenewalOrderIDFor(id, end)
	eventually(t, "the unpaid renewal to fail", func() bool { return f.order(t, renewal).Status == domain.OrderStatusFailed })
	if o := f.order(t, renewal); o.FailureCode != domain.FailureSubscriptionCanceled {
		t.Fatalf("the unpaid renewal failed with %q, want %s", o.FailureCode, domain.FailureSubscriptionCanceled)
	}
}
