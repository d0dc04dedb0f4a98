package projections_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
)

// sevenOrders records seven orders of user_1 with ties in both amount and
// time, so that ordering by id matters, and returns them.
func sevenOrders(h *harness) []domain.OrderPlaced {
	minutes := []int{0, 1, 1, 2, 3, 3, 4}
	amounts := []int64{500, 4900, 500, 19900, 4900, 500, 2500}
	var orders []domain.OrderPlaced
	for i := range minutes {
		o := placed("user_1", fmt.Sprintf("key-%d", i), amounts[i], t0.Add(time.Duration(minutes[i])*time.Minute))
		orders = append(orders, o)
		h.record(o)
	}
	return orders
}

// sorted is orders in the order the API promises: by the field, ties by id,
// both in the same direction.
func sorted(orders []domain.OrderPlaced, by string, desc bool) []string {
	s := slices.Clone(orders)
	slices.SortFunc(s, func(a, b domain.OrderPlaced) int {
		c := a.PlacedAt.Compare(b.PlacedAt)
		if by == "amount" {
			c = cmp.Compare(a.Amount, b.Amount)
		}
		c = cmp.Or(c, strings.Compare(string(a.OrderID), string(b.OrderID)))
		if desc {
			return -c
		}
		return c
	})
	return ids(s, func(o domain.OrderPlaced) string { return string(o.OrderID) })
}

// walk reads every page of user's orders in q's ordering, limit pages at a
// time, and returns the ids in the order seen.
func walk(t *testing.T, rm *projections.ReadModels, user string, q projections.OrderQuery) []string {
	t.Helper()
	var seen []string
	for range 100 {
		page, more, err := rm.Orders(context.Background(), user, q)
		if err != nil {
			t.Fatalf("orders after %q: %v", q.AfterID, err)
		}
		if len(page) > q.Limit || (more && len(page) != q.Limit) {
			t.Fatalf("page of %d (has_more %v) for limit %d", len(page), more, q.Limit)
		}
		seen = append(seen, ids(page, orderID)...)
		if !more {
			return seen
		}
		q.AfterID = page[len(page)-1].ID
	}
	t.Fatal("pages never end")
	return nil
}

// TestOrdersSortAndPage: every ordering, walked two at a time, yields every
// order exactly once, in order.
func TestOrdersSortAndPage(t *testing.T) {
	h := newHarness(t)
	orders := sevenOrders(h)
	for _, tc := range []struct {
		by   string
		desc bool
	}{{"created_at", true}, {"created_at", false}, {"amount", false}, {"amount", true}} {
		t.Run(fmt.Sprintf("%s desc=%v", tc.by, tc.desc), func(t *testing.T) {
			got := walk(t, h.rm, "user_1", projections.OrderQuery{Limit: 2, SortBy: tc.by, Desc: tc.desc})
			sameLines(t, got, sorted(orders, tc.by, tc.desc), "order ids")
		})
	}
}

func TestOrdersDefaultToCreatedAt(t *testing.T) {
	h := newHarness(t)
	orders := sevenOrders(h)
	page, more, err := h.rm.Orders(context.Background(), "user_1", projections.OrderQuery{Limit: 20, Desc: true})
	if err != nil || more {
		t.Fatalf("got more=%v, %v", more, err)
	}
	sameLines(t, ids(page, orderID), sorted(orders, "created_at", true), "order ids")
}

// TestOrderPagesHoldWhileOrdersArrive: orders placed between two page
// fetches make the walk neither skip nor repeat an order. Newest first, the
// new ones are above the pages already read; oldest first, they come at the
// end.
func TestOrderPagesHoldWhileOrdersArrive(t *testing.T) {
	for _, desc := range []bool{true, false} {
		t.Run(fmt.Sprintf("desc=%v", desc), func(t *testing.T) {
			h := newHarness(t)
			orders := sevenOrders(h)
			q := projections.OrderQuery{Limit: 3, SortBy: "created_at", Desc: desc}
			first, _, err := h.rm.Orders(context.Background(), "user_1", q)
			if err != nil {
				t.Fatal(err)
			}
			var arrived []domain.OrderPlaced
			for i := range 3 {
				o := placed("user_1", fmt.Sprintf("late-%d", i), 100, t0.Add(time.Hour+time.Duration(i)*time.Minute))
				arrived = append(arrived, o)
				h.record(o)
			}
			q.AfterID = first[len(first)-1].ID
			got := append(ids(first, orderID), walk(t, h.rm, "user_1", q)...)
			want := sorted(orders, "created_at", desc)
			if !desc {
				want = append(want, sorted(arrived, "created_at", false)...)
			}
			sameLines(t, got, want, "order ids")
		})
	}
}

func TestOrdersRefuseBadQueries(t *testing.T) {
	h := newHarness(t)
	sevenOrders(h)
	theirs := placed("user_2", "key-1", 500, t0)
	h.record(theirs)
	ctx := context.Background()
	_, _, err := h.rm.Orders(ctx, "user_1", projections.OrderQuery{Limit: 2, AfterID: "ord_00000000000000000000000000000000"})
	wantErr(t, err, projections.ErrInvalidCursor, "after an unknown order")
	_, _, err = h.rm.Orders(ctx, "user_1", projections.OrderQuery{Limit: 2, AfterID: string(theirs.OrderID)})
	wantErr(t, err, projections.ErrInvalidCursor, "after another user's order")
	if _, _, err := h.rm.Orders(ctx, "user_1", projections.OrderQuery{Limit: 2, SortBy: "plan_id; DROP TABLE orders"}); err == nil {
		t.Fatal("sorting by an unknown field succeeded")
	}
}

// TestOrderLimitsAreClamped: out-of-range limits, which the HTTP layer
// refuses first, still return 1..100 rows.
func TestOrderLimitsAreClamped(t *testing.T) {
	h := newHarness(t)
	sevenOrders(h)
	for limit, want := range map[int]int{0: 1, -5: 1, 1000: 7} {
		page, _, err := h.rm.Orders(context.Background(), "user_1", projections.OrderQuery{Limit: limit})
		if err != nil || len(page) != want {
			t.Errorf("limit %d: got %d orders, %v; want %d", limit, len(page), err, want)
		}
	}
}

// TestUnsettledOrders: the sweep finds orders still pending or waiting for
// a refund, placed before its threshold, oldest first; not settled ones.
func TestUnsettledOrders(t *testing.T) {
	h := newHarness(t)
	pending := placed("user_1", "a", 100, t0)
	settled := placed("user_1", "b", 100, t0.Add(time.Second))
	refunding := placed("user_2", "c", 100, t0.Add(2*time.Second))
	late := placed("user_2", "d", 100, t0.Add(time.Hour))
	h.record(pending, settled, paid(settled, t0), refunding, paid(refunding, t0),
		domain.RefundRequested{OrderRef: refunding.OrderRef, RefundID: domain.RefundIDFor(refunding.OrderID), RequestedAt: t0}, late)
	got, err := h.rm.Unsettled(context.Background(), time.Time{}, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, ids(got, unsettledID), []string{string(pending.OrderID), string(refunding.OrderID)}, "unsettled orders")
	// Paged: after the first one, the second.
	page, err := h.rm.Unsettled(context.Background(), got[0].CreatedAt, t0.Add(time.Minute), 1)
	if err != nil || len(page) != 1 || page[0].ID != string(refunding.OrderID) {
		t.Fatalf("second page = %v, %v", page, err)
	}
}

func unsettledID(o projections.UnsettledOrder) string { return o.ID }

// TestUnconfirmedCancels: the sweep finds subscriptions canceled in the
// ledger whose end the provider has not confirmed; not confirmed ones, not
// running ones.
func TestUnconfirmedCancels(t *testing.T) {
	h := newHarness(t)
	open, confirmed, running := placed("user_1", "a", 100, t0), placed("user_1", "b", 100, t0), placed("user_2", "c", 100, t0)
	cancel := func(o domain.OrderPlaced) domain.SubscriptionCancelRequested {
		return domain.SubscriptionCancelRequested{SubscriptionRef: subscriptionFor(o), Reason: domain.ReasonCustomerRequest, RequestedAt: t0}
	}
	h.record(open, created(open), cancel(open), confirmed, created(confirmed), cancel(confirmed),
		domain.SubscriptionCanceled{SubscriptionRef: subscriptionFor(confirmed), Reason: domain.ReasonCustomerRequest, CanceledAt: t0},
		running, created(running))
	got, err := h.rm.UnconfirmedCancels(context.Background(), time.Time{}, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != string(subscriptionFor(open).SubscriptionID) || !got[0].CanceledAt.Equal(t0) {
		t.Fatalf("unconfirmed cancellations = %+v, want %s's only", got, subscriptionFor(open).SubscriptionID)
	}
}

// TestDueRenewals: the scheduler finds, through an index, subscriptions
// whose period has ended, and past_due ones whose next retry has come;
// not running ones, not canceled ones, not those still in their period.
func TestDueRenewals(t *testing.T) {
	h := newHarness(t)
	end := t0.AddDate(0, 1, 0)
	started := func(o domain.OrderPlaced) domain.SubscriptionStarted {
		return domain.SubscriptionStarted{SubscriptionRef: subscriptionFor(o), CurrentPeriodStart: t0, CurrentPeriodEnd: end}
	}
	ended, retrying, lastFailed, canceled := placed("u", "a", 100, t0), placed("u", "b", 100, t0), placed("u", "c", 100, t0), placed("u", "d", 100, t0)
	h.record(created(ended), started(ended),
		created(retrying), started(retrying), domain.SubscriptionPastDue{SubscriptionRef: subscriptionFor(retrying), FailureCode: "card_declined", At: end, Attempt: 1, RetryAt: end.Add(24 * time.Hour)},
		created(lastFailed), started(lastFailed), domain.SubscriptionPastDue{SubscriptionRef: subscriptionFor(lastFailed), FailureCode: "card_declined", At: end, Attempt: 4},
		created(canceled), started(canceled), domain.SubscriptionCancelRequested{SubscriptionRef: subscriptionFor(canceled), Reason: domain.ReasonCustomerRequest, RequestedAt: t0})
	ids := func(now time.Time) []string {
		got, err := h.rm.DueRenewals(context.Background(), now, time.Time{}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range got {
			out = append(out, d.ID)
		}
		return out
	}
	if got := ids(end.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("due before the period end: %v", got)
	}
	if got := ids(end); len(got) != 1 || got[0] != string(subscriptionFor(ended).SubscriptionID) {
		t.Fatalf("due at the period end: %v, want the active one", got)
	}
	if got := ids(end.Add(24 * time.Hour)); len(got) != 2 {
		t.Fatalf("due a day later: %v, want the active one and the one whose retry came", got)
	}
}
