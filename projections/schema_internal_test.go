package projections

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// TestOrdersFoundByUserAfterTheMigration: read models of schema 6, whose
// orders were found by their id alone, open at the current schema with
// their rows (no fold again), the index by user and id in place of the one
// by id, and an order's next event folds onto its row.
func TestOrdersFoundByUserAfterTheMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "readmodels.db")
	ref := domain.OrderRef{OrderID: "ord_1", UserID: "user_1", PlanID: "plan_1", Amount: 4900, Currency: "usd"}
	rm, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	placed := domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", PlacedAt: t0}
	if err := rm.folds.applyBatch(ctx, decode([]eventstore.RecordedEvent{recorded(t, 1, placed)})); err != nil {
		t.Fatal(err)
	}
	// Schema 6 as it was: the same tables, orders unique by id.
	for _, q := range []string{
		`DROP INDEX orders_by_user_id`,
		`CREATE UNIQUE INDEX orders_by_id ON orders (id)`,
		`PRAGMA user_version = 6`,
	} {
		if _, err := rm.writer.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := rm.Close(); err != nil {
		t.Fatal(err)
	}

	rm, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if pos, err := rm.Checkpoint(ctx); err != nil || pos != 1 {
		t.Fatalf("checkpoint %d, %v after the migration; want 1 (nothing to fold again)", pos, err)
	}
	if o, err := rm.Order(ctx, "user_1", "ord_1"); err != nil || o.Status != "pending" {
		t.Fatalf("order after the migration: %+v, %v; want it pending", o, err)
	}
	var indexes []string
	rows, err := rm.writer.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"orders_by_user_amount", "orders_by_user_id", "orders_unsettled"}
	if len(indexes) != len(want) || indexes[0] != want[0] || indexes[1] != want[1] || indexes[2] != want[2] {
		t.Fatalf("orders' indexes %v, want %v", indexes, want)
	}
	paid := domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi_1", PaidAt: t0}
	if err := rm.folds.applyBatch(ctx, decode([]eventstore.RecordedEvent{recorded(t, 2, paid)})); err != nil {
		t.Fatal(err)
	}
	if o, err := rm.Order(ctx, "user_1", "ord_1"); err != nil || o.Status != "paid" || o.Amount != 4900 {
		t.Fatalf("order after its payment: %+v, %v; want it paid", o, err)
	}
}
