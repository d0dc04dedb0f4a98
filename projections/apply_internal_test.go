package projections

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

var t0 = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

func openTest(t *testing.T) *ReadModels {
	t.Helper()
	rm, err := Open(context.Background(), filepath.Join(t.TempDir(), "readmodels.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	return rm
}

func recorded(t *testing.T, pos eventstore.Position, e domain.Event) eventstore.RecordedEvent {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{Type: e.EventType(), Position: pos, Data: data}
}

// TestBatchDeliveredAgainAppliesOnce: the checkpoint, not the rows, says
// what was applied: events at or below it are skipped, even when applying
// them again would change a row.
func TestBatchDeliveredAgainAppliesOnce(t *testing.T) {
	rm := openTest(t)
	ctx := context.Background()
	o := domain.OrderPlaced{OrderRef: domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"},
		PaymentMethodID: "pm_1", PlacedAt: t0}
	paid := recorded(t, 2, domain.OrderPaid{OrderRef: o.OrderRef, PaidAt: t0})
	batch := []eventstore.RecordedEvent{
		recorded(t, 1, o), paid,
		recorded(t, 3, domain.RefundRequested{OrderRef: o.OrderRef, RequestedAt: t0}),
	}
	if _, err := rm.folds.applyBatch(ctx, decode(batch)); err != nil {
		t.Fatal(err)
	}
	if _, err := rm.folds.applyBatch(ctx, decode([]eventstore.RecordedEvent{paid})); err != nil {
		t.Fatal(err)
	}
	refundFailed := recorded(t, 5, domain.RefundFailed{OrderRef: o.OrderRef, FailedAt: t0})
	if _, err := rm.folds.applyBatch(ctx, decode([]eventstore.RecordedEvent{batch[2], refundFailed})); err != nil {
		t.Fatal(err)
	}
	got, err := rm.Order(ctx, "user_1", "ord_1")
	if err != nil || got.Status != "paid" || !got.IsRefundable {
		t.Fatalf("order %+v, %v; want paid and refundable again (placed, paid, refund requested, refund failed)", got, err)
	}
	if pos, err := rm.Checkpoint(ctx); err != nil || pos != 5 {
		t.Fatalf("checkpoint %d, %v; want 5", pos, err)
	}
}

// TestOrderPlacedAgainKeepsTheFirst: a second order.placed of an order
// (which the log cannot hold, by construction) changes nothing, and the
// events after it in its batch still apply to the first placement's row,
// also when the folder has forgotten the order and does not read its row
// before a placement.
func TestOrderPlacedAgainKeepsTheFirst(t *testing.T) {
	rm := openTest(t)
	ctx := context.Background()
	ref := domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"}
	first := domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", PlacedAt: t0}
	if _, err := rm.folds.applyBatch(ctx, decode([]eventstore.RecordedEvent{recorded(t, 1, first)})); err != nil {
		t.Fatal(err)
	}
	again := first
	again.Amount, again.PaymentMethodID, again.PlacedAt = 100, "pm_2", t0.Add(time.Hour)
	batch := []eventstore.RecordedEvent{recorded(t, 2, again), recorded(t, 3, domain.OrderPaid{OrderRef: ref, PaidAt: t0})}
	forgetful := newFolder(rm.writer)
	defer forgetful.Close()
	if _, err := forgetful.applyBatch(ctx, decode(batch)); err != nil {
		t.Fatal(err)
	}
	got, err := rm.Order(ctx, "user_1", "ord_1")
	if err != nil || got.Status != "paid" || got.Amount != 4900 || got.PaymentMethodID != "pm_1" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("order %+v, %v; want the first placement's, paid", got, err)
	}
}
