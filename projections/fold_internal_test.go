package projections

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/internal/seed"
)

// TestLongFoldFindsAForgottenOrderByItsPlacement: a long fold into a new
// database (Rebuild's, Verify's) finds an order it no longer remembers,
// refunded after more orders than it keeps in memory, by the key its
// placement gives, without creating the id index it dropped; its rows
// are those of a fold that kept the index throughout.
func TestLongFoldFindsAForgottenOrderByItsPlacement(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log := app.NewLog(store, func() time.Time { return t0 })
	ref := domain.OrderRef{OrderID: domain.OrderIDFor("user_a", "early"), UserID: "user_a", PlanID: "plan_robot_hours_10", Amount: 4900, Currency: "usd"}
	record := func(events ...domain.Event) {
		t.Helper()
		if _, err := log.Append(ctx, ref.StreamID(), eventstore.Any, events, nil, app.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	record(domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", IdempotencyKey: "early", PlacedAt: t0.Add(time.Nanosecond)},
		domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi_1", PaidAt: t0})
	// More orders than the fold keeps, beyond the batch the refund comes
	// in (a batch's orders are kept once it is folded).
	const later = recentOrders + foldBatch/2 + 1000
	if err := seed.History(ctx, store, seed.Config{Orders: later, Users: 20, Start: t0}); err != nil {
		t.Fatal(err)
	}
	record(domain.RefundRequested{OrderRef: ref, RefundID: domain.RefundIDFor(ref.OrderID), RequestedAt: t0.Add(time.Hour)})

	fresh := openScratch(t, "fresh.db")
	dropped, err := dropIndexes(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := foldLog(ctx, fresh, store, toHead, 0, dropped, nil); err != nil {
		t.Fatal(err)
	}
	var indexes int
	if err := fresh.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'orders_by_id'`).Scan(&indexes); err != nil || indexes != 0 {
		t.Fatalf("%d id indexes after the fold, %v: the fold looked the refunded order up by id", indexes, err)
	}
	var status string
	if err := fresh.QueryRow(`SELECT status FROM orders WHERE id = ?`, ref.OrderID).Scan(&status); err != nil || status != "refund_pending" {
		t.Fatalf("the refunded order: %q, %v; want refund_pending", status, err)
	}

	indexed := openScratch(t, "indexed.db")
	if err := foldLog(ctx, indexed, store, toHead, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, want := orderRows(t, fresh), orderRows(t, indexed)
	if len(got) != later+1 || !slices.Equal(got, want) {
		t.Fatalf("%d orders folded without the id index, %d with it, want %d and the same rows", len(got), len(want), later+1)
	}
}
