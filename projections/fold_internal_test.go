package projections

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/internal/seed"
)

// TestLongFoldOfAForgottenOrder: a long fold into a new database
// (Rebuild's, Verify's) meets an order it no longer remembers, refunded
// after more orders than it keeps in memory.
func TestLongFoldOfAForgottenOrder(t *testing.T) {
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

	indexed := openScratch(t, "indexed.db") // a fold that keeps the id index throughout
	if err := foldLog(ctx, indexed, store, toHead, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := orderRows(t, indexed)
	if len(want) != later+1 {
		t.Fatalf("%d orders folded, want %d", len(want), later+1)
	}
	// fresh opens a new database as Rebuild folds into: without indexes.
	fresh := func(t *testing.T) (*sql.DB, []index) {
		t.Helper()
		db := openScratch(t, "fresh.db")
		dropped, err := dropIndexes(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return db, dropped
	}
	fold := func(t *testing.T, log eventstore.Store) (*sql.DB, error) {
		t.Helper()
		db, dropped := fresh(t)
		return db, foldLog(ctx, db, log, toHead, 0, dropped, nil)
	}

	// It finds the order by the key its placement gives, without creating
	// the id index it dropped, and writes the rows of a fold that kept it.
	t.Run("found by its placement", func(t *testing.T) {
		db, err := fold(t, store)
		if err != nil {
			t.Fatal(err)
		}
		var indexes int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'orders_by_id'`).Scan(&indexes); err != nil || indexes != 0 {
			t.Fatalf("%d id indexes after the fold, %v: the fold looked the refunded order up by id", indexes, err)
		}
		if got := orderRows(t, db); !slices.Equal(got, want) {
			t.Fatalf("%d orders folded without the id index, %d with it, and not the same rows", len(got), len(want))
		}
	})

	// The placement is a shortcut: a log that cannot give it (a stream
	// deleted, a read failing) leaves the fold to the id index.
	t.Run("the log's read failing", func(t *testing.T) {
		db, err := fold(t, failingReads{store})
		if err != nil {
			t.Fatalf("fold: %v", err)
		}
		if got := orderRows(t, db); !slices.Equal(got, want) {
			t.Fatalf("%d orders folded with the log's reads failing, %d with the id index, and not the same rows", len(got), len(want))
		}
	})

	// The read ends with the fold: canceled (Ctrl-C on rebuild), the fold
	// does not wait on a store that does not answer.
	t.Run("canceled during the read", func(t *testing.T) {
		stuck := &stuckReads{Store: store, reading: make(chan struct{})}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		db, dropped := fresh(t)
		go func() { done <- foldLog(ctx, db, stuck, toHead, 0, dropped, nil) }()
		select {
		case <-stuck.reading:
		case err := <-done:
			t.Fatalf("the fold ended without reading a placement: %v", err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("fold: %v, want context.Canceled", err)
		}
	})
}

// failingReads is a store whose stream reads fail, while its log reads
// succeed.
type failingReads struct{ eventstore.Store }

func (failingReads) ReadStream(context.Context, string, eventstore.Direction, uint64, int) ([]eventstore.RecordedEvent, error) {
	return nil, errors.New("stream deleted")
}

// stuckReads is a store whose stream reads wait for their context to end,
// closing reading as the first begins.
type stuckReads struct {
	eventstore.Store
	reading chan struct{}
	once    sync.Once
}

func (s *stuckReads) ReadStream(ctx context.Context, _ string, _ eventstore.Direction, _ uint64, _ int) ([]eventstore.RecordedEvent, error) {
	s.once.Do(func() { close(s.reading) })
	<-ctx.Done()
	return nil, ctx.Err()
}
