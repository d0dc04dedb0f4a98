package projections

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/robotlabor/billing/eventstore"
)

// BenchmarkOrdersPage reads a user's first page of 20 orders, as GET
// /v1/me/wallet/orders does, from read models holding 2,000 of them, with
// a context that can be canceled, as a request's can: from the database
// (query), and as kept since the last read (kept).
//
//	go test ./projections -run '^$' -bench OrdersPage -benchmem
func BenchmarkOrdersPage(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rm, err := Open(ctx, filepath.Join(b.TempDir(), "readmodels.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer rm.Close()
	var (
		recs []eventstore.RecordedEvent
		pos  eventstore.Position
	)
	for n := range 2000 {
		recs = appendPlacedAndPaid(b, recs, &pos, "user-1", n)
	}
	if err := rm.folds.applyBatch(ctx, decode(recs)); err != nil {
		b.Fatal(err)
	}
	q := OrderQuery{Limit: 20, SortBy: "created_at", Desc: true}
	for name, read := range map[string]func() ([]RawOrder, bool, error){
		"query": func() ([]RawOrder, bool, error) { return rm.ordersPage(ctx, "user-1", q.SortBy, q) },
		"kept":  func() ([]RawOrder, bool, error) { return rm.Orders(ctx, "user-1", q) },
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				items, more, err := read()
				if err != nil || len(items) != 20 || !more {
					b.Fatalf("page: %d items, more %v, %v", len(items), more, err)
				}
			}
		})
	}
}
