package projections_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
)

// TestAFailedWriteThenRestartLosesNothing: a write of the projector's
// transaction that fails (a trigger refuses one of its orders) stops the
// projector with the read models at their last commit; a projector run
// again on the same read models (same folder, same cache of rows) folds
// every batch of the failed transaction again, and the rows equal a
// rebuild's.
func TestAFailedWriteThenRestartLosesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rm := h.readModels()
	a := placed("user_1", "key-a", 4900, t0)
	first := projections.NewProjector(rm, h.store, nil)
	stopFirst := runProjector(t, first)
	before := h.append(a)
	if err := first.WaitFor(ctx, before); err != nil { // committed, and in the folder's cache
		t.Fatal(err)
	}
	stopFirst()

	raw := openRaw(t, h.path)
	bad := placed("user_1", "key-bad", 100, t0.Add(time.Minute))
	if _, err := raw.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON orders WHEN NEW.id = '` + string(bad.OrderID) + `' BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	p := projections.NewProjector(rm, h.store, nil)
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	h.append(paid(a, t0))
	h.append(bad)
	err := <-done
	if err == nil {
		t.Fatal("Run with a refused insert: nil error")
	}
	if got, _ := rm.Checkpoint(ctx); got != before {
		t.Fatalf("checkpoint %d after the failed write, want %d", got, before)
	}
	if o, err := rm.Order(ctx, "user_1", string(a.OrderID)); err != nil || o.Status != "pending" {
		t.Fatalf("a after the failed write: %+v %v; want pending (its payment not committed)", o, err)
	}
	if _, err := raw.Exec(`DROP TRIGGER refuse`); err != nil {
		t.Fatal(err)
	}
	again := projections.NewProjector(rm, h.store, nil)
	stop := runProjector(t, again)
	head := h.head()
	if err := again.WaitFor(ctx, head); err != nil {
		t.Fatal(err)
	}
	// a changed again after the restart: its next fold starts from the cache.
	h.append(refundOf(a))
	if err := again.WaitFor(ctx, h.head()); err != nil {
		t.Fatal(err)
	}
	stop()
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if err := projections.Rebuild(ctx, h.store, fresh, nil); err != nil {
		t.Fatal(err)
	}
	sameLines(t, dump(t, h.path), dump(t, fresh), "read models after a failed write and a restart, and a rebuild")
}

func refundOf(o domain.OrderPlaced) domain.Event {
	return domain.RefundRequested{OrderRef: o.OrderRef, RefundID: domain.RefundIDFor(o.OrderID), RequestedAt: t0.Add(time.Hour)}
}

// TestWatchOfAnOrderPlacedAgainAfterARestart: after a restart (the
// folder's cache empty), an order placed again and then paid: once Sync
// returns, the read models show what the watch held (Watch.Order's
// promise, as TestWatchFollowsOneStream checks for an ordinary order).
func TestWatchOfAnOrderPlacedAgainAfterARestart(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := placed("user_1", "key-1", 4900, t0)
	h.record(first)
	h.halt()
	h.start() // a new process: nothing cached

	watch := h.p.Watch(first.OrderID.Stream())
	defer watch.Release()
	again := placed("user_1", "key-1", 100, t0.Add(time.Hour))
	h.append(again)
	pos := h.append(paid(first, t0))
	if err := watch.Wait(ctx, pos-1); err != nil {
		t.Fatal(err)
	}
	held, ok := watch.Order()
	if err := h.p.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	row, err := h.rm.Order(ctx, "user_1", string(first.OrderID))
	if err != nil || row.Amount != 4900 || row.Status != "paid" {
		t.Fatalf("row %+v, %v; want the first placement, paid", row, err)
	}
	if !ok || !reflect.DeepEqual(held, row) {
		t.Fatalf("the watch held %+v (%v); once synced the read models have %+v", held, ok, row)
	}
}

// TestAnOrderRowEditedByHandStillFolds: a row whose key no longer matches
// its body (edited by hand, or damaged) does not stop the projector: the
// order's next event, after a restart, still updates it, found by its
// id.
func TestAnOrderRowEditedByHandStillFolds(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	o := placed("user_1", "edited", 4900, t0)
	h.record(o)
	h.halt()
	if _, err := openRaw(t, h.path).Exec(`UPDATE orders SET created_at = created_at + 1 WHERE id = ?`, string(o.OrderID)); err != nil {
		t.Fatal(err)
	}
	h.start()
	h.record(paid(o, t0))
	got, err := h.rm.Order(ctx, o.UserID, string(o.OrderID))
	if err != nil || got.Status != "paid" {
		t.Fatalf("order after its payment: %+v, %v; want paid", got, err)
	}
}
