package projections_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// TestOrderLifecycle: each order event moves the row as the domain's state
// machine moves the order, including a failed refund making it refundable
// again.
func TestOrderLifecycle(t *testing.T) {
	h := newHarness(t)
	o := placed("user_1", "key-1", 4900, t0)
	refund := domain.RefundIDFor(o.OrderID)
	refundedAt := t0.Add(72 * time.Hour)
	steps := []struct {
		event      domain.Event
		status     string
		refundable bool
		refundedAt *time.Time
	}{
		{o, "pending", false, nil},
		{paid(o, t0.Add(time.Second)), "paid", true, nil},
		{domain.RefundRequested{OrderRef: o.OrderRef, RefundID: refund, RequestedAt: t0.Add(time.Hour)}, "refund_pending", false, nil},
		{domain.RefundFailed{OrderRef: o.OrderRef, RefundID: refund, FailureCode: "charge_disputed", FailedAt: t0.Add(time.Hour)}, "paid", true, nil},
		{domain.RefundRequested{OrderRef: o.OrderRef, RefundID: refund, RequestedAt: t0.Add(48 * time.Hour)}, "refund_pending", false, nil},
		{domain.OrderRefunded{OrderRef: o.OrderRef, RefundID: refund, ProviderRefundID: "re_p", RefundedAt: refundedAt}, "refunded", false, &refundedAt},
	}
	for _, s := range steps {
		h.record(s.event)
		got, err := h.rm.Order(context.Background(), "user_1", string(o.OrderID))
		if err != nil {
			t.Fatalf("after %s: %v", s.event.EventType(), err)
		}
		want := projections.Order{
			ID: string(o.OrderID), UserID: "user_1", PlanID: string(plan), Status: s.status, Currency: "usd",
			Amount: 4900, IsRefundable: s.refundable, CreatedAt: t0, PaymentMethodID: string(card), RefundedAt: s.refundedAt,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s:\ngot  %+v\nwant %+v", s.event.EventType(), got, want)
		}
	}
}

func TestFailedPaymentRecordsItsCode(t *testing.T) {
	h := newHarness(t)
	o := placed("user_1", "key-1", 4900, t0)
	h.record(o, domain.OrderPaymentFailed{OrderRef: o.OrderRef, FailureCode: "card_declined", FailureMessage: "Your card was declined.", FailedAt: t0})
	got, err := h.rm.Order(context.Background(), "user_1", string(o.OrderID))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || got.IsRefundable || got.FailureCode == nil || *got.FailureCode != "card_declined" {
		t.Fatalf("got %+v, want failed, not refundable, failure_code card_declined", got)
	}
}

// TestSubscriptionLifecycle: created, started, past due, renewed, canceled
// on request (keeping the request's time when the provider confirms); and a
// subscription whose first payment failed ends canceled at that time.
func TestSubscriptionLifecycle(t *testing.T) {
	h := newHarness(t)
	o := placed("user_1", "key-1", 19900, t0)
	o.SubscriptionID = domain.SubscriptionIDFor(o.OrderID)
	ref := subscriptionFor(o)
	start1, end1 := t0.Add(2*time.Second), t0.AddDate(0, 1, 0).Add(2*time.Second)
	end2 := end1.AddDate(0, 1, 0)
	requested := end1.Add(18 * 24 * time.Hour)
	other := domain.PaymentMethodID("pm_00000000000000000000000000000002")
	requestedReason := "requested"
	steps := []struct {
		event      domain.Event
		status     string
		start, end *time.Time
		canceledAt *time.Time
		card       domain.PaymentMethodID
		atEnd      bool
		reason     *string
	}{
		{created(o), "incomplete", nil, nil, nil, card, false, nil},
		{domain.SubscriptionStarted{SubscriptionRef: ref, CurrentPeriodStart: start1, CurrentPeriodEnd: end1}, "active", &start1, &end1, nil, card, false, nil},
		{domain.SubscriptionPastDue{SubscriptionRef: ref, FailureCode: "insufficient_funds", At: end1}, "past_due", &start1, &end1, nil, card, false, nil},
		{domain.SubscriptionCardChanged{SubscriptionRef: ref, PaymentMethodID: other, ChangedAt: end1}, "past_due", &start1, &end1, nil, other, false, nil},
		{domain.SubscriptionRenewed{SubscriptionRef: ref, RenewalOrderID: "ord_r", CurrentPeriodStart: end1, CurrentPeriodEnd: end2}, "active", &end1, &end2, nil, other, false, nil},
		{domain.CancelScheduled{SubscriptionRef: ref, ScheduledAt: end1}, "active", &end1, &end2, nil, other, true, nil},
		{domain.CancelUnscheduled{SubscriptionRef: ref, UnscheduledAt: end1}, "active", &end1, &end2, nil, other, false, nil},
		{domain.SubscriptionCancelRequested{SubscriptionRef: ref, Reason: "customer_request", RequestedAt: requested}, "canceled", &end1, &end2, &requested, other, false, &requestedReason},
		{domain.SubscriptionCanceled{SubscriptionRef: ref, Reason: "provider", CanceledAt: requested.Add(time.Second)}, "canceled", &end1, &end2, &requested, other, false, &requestedReason},
	}
	for _, s := range steps {
		h.record(s.event)
		got, err := h.rm.Subscription(context.Background(), "user_1", string(ref.SubscriptionID))
		if err != nil {
			t.Fatalf("after %s: %v", s.event.EventType(), err)
		}
		want := projections.Subscription{
			ID: string(ref.SubscriptionID), PlanID: string(plan), OrderID: string(o.OrderID), Status: s.status,
			CurrentPeriodStart: s.start, CurrentPeriodEnd: s.end, CanceledAt: s.canceledAt, CreatedAt: t0,
			PaymentMethodID: string(s.card), CancelAtPeriodEnd: s.atEnd, CancelReason: s.reason,
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s:\ngot  %+v\nwant %+v", s.event.EventType(), got, want)
		}
	}

	failed := placed("user_1", "key-2", 19900, t0)
	failedRef := subscriptionFor(failed)
	endedAt := t0.Add(3 * time.Second)
	h.record(created(failed), domain.SubscriptionCanceled{SubscriptionRef: failedRef, Reason: "first_payment_failed", CanceledAt: endedAt})
	got, err := h.rm.Subscription(context.Background(), "user_1", string(failedRef.SubscriptionID))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "canceled" || got.CanceledAt == nil || !got.CanceledAt.Equal(endedAt) || got.CurrentPeriodStart != nil ||
		got.CancelReason == nil || *got.CancelReason != "payment_failed" {
		t.Fatalf("subscription whose first payment failed: got %+v, want canceled for payment_failed at %v with no period", got, endedAt)
	}
}

// TestCardsAttachAndDetach: an attached card is listed once even when its
// attachment is replayed; a detached card is gone.
func TestCardsAttachAndDetach(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first, second := attached("user_1", 1, t0), attached("user_1", 2, t0.Add(time.Minute))
	h.record(first, second, first)
	got, next, err := h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []projections.PaymentMethod{
		{ID: string(second.PaymentMethodID), Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, CreatedAt: t0.Add(time.Minute)},
		{ID: string(first.PaymentMethodID), Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, CreatedAt: t0},
	}
	if !reflect.DeepEqual(got, want) || next != "" {
		t.Fatalf("got %+v next %q, want %+v and no next page", got, next, want)
	}

	h.record(domain.CardDetached{UserID: "user_1", PaymentMethodID: first.PaymentMethodID, DetachedAt: t0.Add(time.Hour)})
	_, err = h.rm.PaymentMethod(ctx, "user_1", string(first.PaymentMethodID))
	wantErr(t, err, projections.ErrNotFound, "detached card")
	got, _, err = h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 10})
	if err != nil || len(got) != 1 || got[0].ID != string(second.PaymentMethodID) {
		t.Fatalf("after detaching: got %+v, %v; want only the second card", got, err)
	}
}

// TestOtherEventsAdvanceTheCheckpoint: events no read model shows (the
// catalog, customers, setup sessions, types newer than this code) change no
// row, yet the projector moves past them.
func TestOtherEventsAdvanceTheCheckpoint(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := app.SyncCatalog(ctx, h.log, domain.DefaultPlans(), app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	h.append(domain.CustomerCreated{UserID: "user_1", Provider: "sandbox", CustomerID: "cus_1", CreatedAt: t0})
	h.append(domain.CardSetupStarted{UserID: "user_1", SessionID: "cs_00000000000000000000000000000001", URL: "http://x", ExpiresAt: t0.Add(time.Hour), StartedAt: t0})
	future := eventstore.EventData{ID: uuid.New(), Type: "robot.waved", Data: []byte(`{"hello": 1}`)}
	res, err := h.store.Append(ctx, "robot-1", eventstore.NoStream, future)
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor(res.Position)
	if got, err := h.rm.Checkpoint(ctx); err != nil || got != res.Position {
		t.Fatalf("checkpoint %d, %v; want the head %d", got, err, res.Position)
	}
	for _, line := range dump(t, h.path) {
		if !strings.HasPrefix(line, "checkpoint") && !strings.HasPrefix(line, "schema ") {
			t.Fatalf("a skipped event wrote a row: %s", line)
		}
	}
}
