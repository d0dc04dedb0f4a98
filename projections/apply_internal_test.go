package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

// placedAgain folds into rm, at position 1, the placement of ord_1 (4900,
// pm_1), and returns its ref and a second placement of the same order with
// another body (100, pm_2), which the log cannot hold but the read models
// defend against.
func placedAgain(t *testing.T, rm *ReadModels) (domain.OrderRef, domain.OrderPlaced) {
	t.Helper()
	ref := domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"}
	first := domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", PlacedAt: t0}
	if err := rm.folds.applyBatch(context.Background(), decode([]eventstore.RecordedEvent{recorded(t, 1, first)})); err != nil {
		t.Fatal(err)
	}
	again := first
	again.Amount, again.PaymentMethodID, again.PlacedAt = 100, "pm_2", t0.Add(time.Hour)
	return ref, again
}

// TestBatchDeliveredAgainAppliesOnce: the checkpoint, not the rows, says
// what was applied: events at or below it are skipped, even when applying
// them again would change a row.
func TestBatchDeliveredAgainAppliesOnce(t *testing.T) {
	for _, oneTx := range []bool{false, true} {
		t.Run(fmt.Sprintf("one transaction %v", oneTx), func(t *testing.T) { testBatchDeliveredAgain(t, oneTx) })
	}
}

// testBatchDeliveredAgain folds batches that repeat events already folded,
// each in a transaction of its own or all in one (as the projector's
// transaction spans batches).
func testBatchDeliveredAgain(t *testing.T, oneTx bool) {
	rm := openTest(t)
	ctx := context.Background()
	o := domain.OrderPlaced{OrderRef: domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"},
		PaymentMethodID: "pm_1", PlacedAt: t0}
	paid := recorded(t, 2, domain.OrderPaid{OrderRef: o.OrderRef, PaidAt: t0})
	batch := []eventstore.RecordedEvent{
		recorded(t, 1, o), paid,
		recorded(t, 3, domain.RefundRequested{OrderRef: o.OrderRef, RequestedAt: t0}),
	}
	refundFailed := recorded(t, 5, domain.RefundFailed{OrderRef: o.OrderRef, FailedAt: t0})
	// The refund request delivered again after its failure must not make
	// the order refund_pending again.
	batches := [][]eventstore.RecordedEvent{batch, {paid}, {batch[2], refundFailed}, {paid, batch[2]}}
	if oneTx {
		w, err := rm.folds.begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.rollback()
		for _, b := range batches {
			if _, err := w.fold(ctx, decode(b)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.commit(ctx); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, b := range batches {
			if err := rm.folds.applyBatch(ctx, decode(b)); err != nil {
				t.Fatal(err)
			}
		}
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
	ref, again := placedAgain(t, rm)
	batch := []eventstore.RecordedEvent{recorded(t, 2, again), recorded(t, 3, domain.OrderPaid{OrderRef: ref, PaidAt: t0})}
	forgetful := newFolder(rm.writer)
	defer forgetful.Close()
	if err := forgetful.applyBatch(ctx, decode(batch)); err != nil {
		t.Fatal(err)
	}
	got, err := rm.Order(ctx, "user_1", "ord_1")
	if err != nil || got.Status != "paid" || got.Amount != 4900 || got.PaymentMethodID != "pm_1" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("order %+v, %v; want the first placement's, paid", got, err)
	}
}

// TestLongFoldEqualsBatchByBatch: folding a log in one transaction, as
// Rebuild and Verify do, gives the rows that committing each batch gives,
// as the projector does, also for orders whose rows the folder's cache of
// recent ones has dropped: paid, refunded and placed again batches later.
func TestLongFoldEqualsBatchByBatch(t *testing.T) {
	ctx := context.Background()
	var log []event
	var pos eventstore.Position
	add := func(e domain.Event) {
		pos++
		log = append(log, event{rec: recorded(t, pos, e), e: e})
	}
	order := func(user, key string, amount int64) domain.OrderPlaced {
		return domain.OrderPlaced{OrderRef: domain.OrderRef{OrderID: domain.OrderIDFor(user, key), UserID: user,
			PlanID: "plan_robot_hours_10", Amount: amount, Currency: "usd"}, PaymentMethodID: "pm_1", IdempotencyKey: key, PlacedAt: t0}
	}
	first, refunded := order("user_1", "first", 4900), order("user_2", "refunded", 2500)
	add(first)
	add(refunded)
	add(domain.OrderPaid{OrderRef: refunded.OrderRef, ProviderPaymentID: "pi_r", PaidAt: t0})
	// Enough orders that the cache has dropped the first ones a batch
	// before they change again.
	for i := range recentOrders + 5000 {
		add(order(fmt.Sprintf("user_%d", 3+i%50), fmt.Sprint(i), 100))
	}
	again := first
	again.Amount = 1 // placed again: the first placement stands
	add(again)
	add(domain.OrderPaid{OrderRef: first.OrderRef, ProviderPaymentID: "pi_f", PaidAt: t0})
	add(domain.RefundRequested{OrderRef: refunded.OrderRef, RefundID: domain.RefundIDFor(refunded.OrderID), RequestedAt: t0})
	const batch = 4096

	long := openScratch(t, "long.db")
	dropped, err := dropIndexes(ctx, long) // as Rebuild's
	if err != nil {
		t.Fatal(err)
	}
	f := newFolder(long)
	defer f.Close()
	w, err := f.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.foldFresh(ctx, nil, dropped) // as foldLogAsOf's
	for from := 0; from < len(log); from += batch {
		if _, err := w.fold(ctx, log[from:min(from+batch, len(log))]); err != nil {
			t.Fatal(err)
		}
		w.settle(nil)
	}
	if err := w.commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(w.lookups) > 0 {
		t.Fatalf("the fold looked orders up by id without creating %v first", w.lookups)
	}
	if err := createIndexes(ctx, long, dropped); err != nil {
		t.Fatal(err)
	}

	each := openScratch(t, "each.db")
	g := newFolder(each)
	defer g.Close()
	for from := 0; from < len(log); from += batch {
		if err := g.applyBatch(ctx, log[from:min(from+batch, len(log))]); err != nil {
			t.Fatal(err)
		}
	}

	got, want := orderRows(t, long), orderRows(t, each)
	if len(got) != len(want) || len(got) != recentOrders+5002 {
		t.Fatalf("%d orders folded in one transaction, %d batch by batch; want %d", len(got), len(want), recentOrders+5002)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("folded in one transaction:\n%s\nbatch by batch:\n%s", got[i], want[i])
		}
	}
	for _, o := range []struct {
		id     domain.OrderID
		status string
		amount int64
	}{{first.OrderID, "paid", 4900}, {refunded.OrderID, "refund_pending", 2500}} {
		var status string
		var amount int64
		if err := long.QueryRowContext(ctx, `SELECT status, amount FROM orders WHERE id = ?`, o.id).Scan(&status, &amount); err != nil || status != o.status || amount != o.amount {
			t.Fatalf("order %s: %s, %d, %v; want %s, %d", o.id, status, amount, err, o.status, o.amount)
		}
	}
}

func openScratch(t *testing.T, name string) *sql.DB {
	t.Helper()
	db, err := openWriter(context.Background(), filepath.Join(t.TempDir(), name), scratch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// orderRows are the orders' rows, whole, in id order.
func orderRows(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT id, user_id, created_at, amount, status, body, placed_rec, changed_rec FROM orders ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, user, status, body string
		var created, amount, placed, changed int64
		if err := rows.Scan(&id, &user, &created, &amount, &status, &body, &placed, &changed); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(id, user, created, amount, status, body, placed, changed))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
