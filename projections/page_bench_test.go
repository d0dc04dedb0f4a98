package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// BenchmarkOrdersPage reads a user's first page of 20 orders, as GET
// /v1/me/wallet/orders does, from read models holding 2,000 of them.
//
//	go test ./projections -run '^$' -bench OrdersPage -benchmem
func BenchmarkOrdersPage(b *testing.B) {
	ctx := context.Background()
	rm, err := Open(ctx, filepath.Join(b.TempDir(), "readmodels.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer rm.Close()
	var recs []eventstore.RecordedEvent
	for n := range 2000 {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second)
		ref := domain.OrderRef{OrderID: domain.OrderIDFor("user-1", fmt.Sprint(n)), UserID: "user-1", PlanID: "plan_robot_hours_10", Amount: 4900, Currency: "usd"}
		for _, e := range []domain.Event{
			domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", IdempotencyKey: fmt.Sprint(n), Fingerprint: "f", PlacedAt: at},
			domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi_1", PaidAt: at},
		} {
			data, err := json.Marshal(e)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, eventstore.RecordedEvent{Type: e.EventType(), Position: eventstore.Position(len(recs) + 1), Data: data, RecordedAt: at})
		}
	}
	if _, err := rm.folds.applyBatch(ctx, decode(recs)); err != nil {
		b.Fatal(err)
	}
	q := OrderQuery{Limit: 20, SortBy: "created_at", Desc: true}
	for b.Loop() {
		items, more, err := rm.Orders(ctx, "user-1", q)
		if err != nil || len(items) != 20 || !more {
			b.Fatalf("page: %d items, more %v, %v", len(items), more, err)
		}
	}
}
