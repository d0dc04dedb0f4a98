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

// BenchmarkFoldOrders folds batches of orders, each placed and paid, into
// a scratch database as Rebuild does, in one transaction: the write side
// of a long fold, without reading the log. The users' orders interleave, as under load.
//
//	go test ./projections -run '^$' -bench FoldOrders -benchtime 20x
func BenchmarkFoldOrders(b *testing.B) {
	ctx := context.Background()
	db, err := openWriter(ctx, filepath.Join(b.TempDir(), "readmodels.db"), scratch)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	dropped, err := dropIndexes(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	f := newFolder(db)
	defer f.Close()
	const users = 1000
	pos, n := eventstore.Position(0), 0
	batch := func() []event {
		recs := make([]eventstore.RecordedEvent, 0, foldBatch)
		for len(recs) < foldBatch {
			n++
			recs = appendPlacedAndPaid(b, recs, &pos, fmt.Sprintf("user-%d", n%users), n)
		}
		return decode(recs)
	}
	w, err := f.begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer w.rollback()
	w.foldFresh(ctx, nil, dropped) // a fold into a new database, as Rebuild's (foldLogAsOf)
	b.ResetTimer()
	for range b.N { // not b.Loop: its timer stops before the commit
		b.StopTimer()
		evs := batch()
		b.StartTimer()
		if _, err := w.fold(ctx, evs); err != nil {
			b.Fatal(err)
		}
		w.settle(nil)
	}
	if err := w.commit(ctx); err != nil { // a fold ends with it: timed
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*foldBatch)/b.Elapsed().Seconds(), "events/s")
}

// appendPlacedAndPaid appends the n-th order of user, placed and paid n
// seconds into 2026, at the log's next two positions after *pos, as the
// first two events of the order's stream.
func appendPlacedAndPaid(b testing.TB, recs []eventstore.RecordedEvent, pos *eventstore.Position, user string, n int) []eventstore.RecordedEvent {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second)
	ref := domain.OrderRef{OrderID: domain.OrderIDFor(user, fmt.Sprint(n)), UserID: user, PlanID: "plan_robot_hours_10", Amount: 4900, Currency: "usd"}
	for rev, e := range []domain.Event{
		domain.OrderPlaced{OrderRef: ref, PaymentMethodID: "pm_1", IdempotencyKey: fmt.Sprint(n), Fingerprint: "f", PlacedAt: at},
		domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi_1", PaidAt: at},
	} {
		data, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		*pos++
		recs = append(recs, eventstore.RecordedEvent{Stream: e.StreamID(), Revision: uint64(rev), Type: e.EventType(), Position: *pos, Data: data, RecordedAt: at})
	}
	return recs
}
