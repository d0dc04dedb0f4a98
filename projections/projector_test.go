package projections_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// TestProjectorMakesAppendsReadable: a handler that appended at a position
// and waits for it then reads its write; Changed wakes whoever waits for the
// next batch.
func TestProjectorMakesAppendsReadable(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	changed := h.p.Changed()
	o := placed("user_1", "key-1", 4900, t0)
	pos := h.append(o)
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed did not fire after a batch")
	}
	if err := h.p.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
	if _, err := h.rm.Order(ctx, "user_1", string(o.OrderID)); err != nil {
		t.Fatalf("order not readable after WaitFor(%d): %v", pos, err)
	}
	if got := h.p.Position(); got < pos {
		t.Fatalf("Position %d after WaitFor(%d)", got, pos)
	}
	if got := h.p.LastEventTime(); got.IsZero() || time.Since(got) > time.Minute {
		t.Fatalf("LastEventTime %v, want the append's recording time", got)
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := h.p.WaitFor(short, pos+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor a position never reached: %v, want the context's deadline", err)
	}
}

// TestSyncShowsWhatWasFolded: a batch is folded before it is committed;
// once a reader saw it folded, Sync makes the queries show it, and
// Position never passes Folded.
func TestSyncShowsWhatWasFolded(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i := range 20 {
		o := placed("user_1", fmt.Sprint("key-", i), 4900, t0)
		pos := h.append(o, paid(o, t0))
		if err := h.p.WaitFolded(ctx, pos); err != nil {
			t.Fatal(err)
		}
		if got := h.p.Folded(); got < pos {
			t.Fatalf("Folded %d after WaitFolded(%d)", got, pos)
		}
		if err := h.p.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if !h.p.Synced() && h.p.Folded() == pos {
			t.Fatalf("Synced false after Sync, with nothing folded since")
		}
		if committed, folded := h.p.Position(), h.p.Folded(); committed < pos || committed > folded {
			t.Fatalf("after Sync: Position %d, Folded %d, the append at %d", committed, folded, pos)
		}
		got, err := h.rm.Order(ctx, "user_1", string(o.OrderID))
		if err != nil || got.Status != "paid" {
			t.Fatalf("after Sync the order reads %+v, %v; want it paid", got, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := h.p.WaitFolded(short, h.p.Folded()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFolded for a position never reached: %v, want the context's deadline", err)
	}
	if err := h.p.Sync(short); err != nil {
		t.Fatalf("Sync with nothing left to commit: %v", err)
	}
}

// TestProjectorRunAgainFoldsWhatItDidNotCommit: a projector stopped with
// batches folded and perhaps not committed leaves the read models at their
// last commit, and a read that would miss them fails rather than answer;
// run again on the same read models, it folds those batches again and
// loses none, and a reader that waited for a fold before it ran is woken.
func TestProjectorRunAgainFoldsWhatItDidNotCommit(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	rm := h.readModels()
	var orders []domain.OrderPlaced
	p := projections.NewProjector(rm, h.store, nil)
	stop := runProjector(t, p)
	for i := range 5 {
		o := placed("user_1", fmt.Sprint("key-", i), 4900, t0)
		orders = append(orders, o)
		if err := p.WaitFolded(ctx, h.append(o, paid(o, t0))); err != nil {
			t.Fatal(err)
		}
	}
	stop() // most likely before the commit
	// Stopped, a read no longer waits: it answers when the read models
	// hold every batch folded, and fails when they do not.
	switch err := p.Sync(ctx); {
	case p.Position() >= p.Folded() && err != nil:
		t.Fatalf("Sync after the stop, everything committed: %v", err)
	case p.Position() < p.Folded() && !errors.Is(err, projections.ErrStopped):
		t.Fatalf("Sync after the stop, Position %d < Folded %d: %v, want ErrStopped", p.Position(), p.Folded(), err)
	}

	again := projections.NewProjector(rm, h.store, nil)
	head := h.head()
	woken := make(chan error, 1)
	go func() { woken <- again.WaitFolded(ctx, eventstore.Position(1)) }()
	stop = runProjector(t, again)
	defer stop()
	select {
	case err := <-woken:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFolded for a position below the checkpoint did not return once the projector ran")
	}
	if err := again.WaitFor(ctx, head); err != nil {
		t.Fatal(err)
	}
	for _, o := range orders {
		if got, err := rm.Order(ctx, "user_1", string(o.OrderID)); err != nil || got.Status != "paid" {
			t.Fatalf("order %s after the second run: %+v, %v; want it paid", o.OrderID, got, err)
		}
	}
}

// TestSyncHoldsReadsUntilTheStartsHead: a process that starts after
// another stopped holds its reads until the read models include the log
// as it was at the start, whatever the one before left uncommitted.
func TestSyncHoldsReadsUntilTheStartsHead(t *testing.T) {
	h := newHarness(t)
	h.halt()
	ctx := context.Background()
	o := placed("user_1", "key-1", 4900, t0)
	head := h.append(o, paid(o, t0)) // answered, say, and not committed
	rm, err := projections.Open(ctx, h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	p := projections.NewProjector(rm, h.store, nil)
	p.HoldReadsUntil(head)
	if p.Synced() {
		t.Fatal("Synced before the projector folded the start's head")
	}
	synced := make(chan error, 1)
	go func() { synced <- p.Sync(ctx) }()
	defer runProjector(t, p)()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if got, err := rm.Order(ctx, "user_1", string(o.OrderID)); err != nil || got.Status != "paid" {
		t.Fatalf("after Sync the order reads %+v, %v; want it paid", got, err)
	}
}

// TestWatchFollowsOneStream: a handler watching its order from before its
// write sees every event of that order applied after, and none of other
// orders; it waits until an event after its own write is folded, and the
// queries show what it saw once it syncs.
func TestWatchFollowsOneStream(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	mine, other := placed("user_1", "key-1", 4900, t0), placed("user_2", "key-2", 4900, t0)
	watch := h.p.Watch(mine.OrderID.Stream())
	defer watch.Release()
	gone := h.p.Watch(mine.OrderID.Stream())
	gone.Release()
	gone.Release() // twice is harmless

	at := h.record(mine)
	if got := watch.Last(); got != at {
		t.Fatalf("Last after the order was placed at %d: %d", at, got)
	}
	h.record(other)
	if got := watch.Last(); got != at {
		t.Fatalf("Last moved to %d with another order's event", got)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := watch.Wait(short, at); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait after the last event: %v, want the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- watch.Wait(ctx, at) }()
	paidAt := h.append(paid(mine, t0))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the order's next event was applied")
	}
	if got := watch.Last(); got != paidAt {
		t.Fatalf("Last = %d, want the payment's position %d", got, paidAt)
	}
	held, ok := watch.Order()
	if !ok || held.Status != "paid" {
		t.Fatalf("once Wait returned the watch holds the order %+v (%v); want it paid", held, ok)
	}
	// Folded, maybe not committed yet: Sync makes the queries show it.
	if err := h.p.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if order, err := h.rm.Order(ctx, "user_1", string(mine.OrderID)); err != nil || !reflect.DeepEqual(held, order) {
		t.Fatalf("after Sync the read models have %+v (%v); the watch holds %+v", order, err, held)
	}
	if _, ok := gone.Order(); ok {
		t.Fatal("a released watch holds an order")
	}
	if got := gone.Last(); got != eventstore.Start {
		t.Fatalf("a released watch moved to %d", got)
	}
}

// TestProjectorResumesFromItsCheckpoint: stopped, it misses nothing the log
// records meanwhile and applies nothing twice: after the restart it is at
// the head and equal to read models folded afresh.
func TestProjectorResumesFromItsCheckpoint(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := placed("user_1", "key-1", 4900, t0)
	h.record(first, paid(first, t0))
	h.halt()

	h.append(domain.RefundRequested{OrderRef: first.OrderRef, RefundID: domain.RefundIDFor(first.OrderID), RequestedAt: t0.Add(time.Hour)})
	second := placed("user_1", "key-2", 500, t0.Add(time.Hour))
	h.append(second)
	h.append(attached("user_1", 1, t0))

	h.start()
	head := h.head()
	h.waitFor(head)
	if got, err := h.rm.Checkpoint(ctx); err != nil || got != head {
		t.Fatalf("checkpoint %d, %v; want the head %d", got, err, head)
	}
	if o, err := h.rm.Order(ctx, "user_1", string(first.OrderID)); err != nil || o.Status != "refund_pending" {
		t.Fatalf("first order %+v, %v; want refund_pending", o, err)
	}
	h.halt()

	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if err := projections.Rebuild(ctx, h.store, fresh, nil); err != nil {
		t.Fatal(err)
	}
	sameLines(t, dump(t, h.path), dump(t, fresh), "resumed and fresh read models")
}

// TestBatchCommitsWholeOrNotAtAll: an event of a folded type that does not
// decode stops the projector; its batch leaves no row and no checkpoint
// behind, so nothing of it is lost or half-applied.
func TestBatchCommitsWholeOrNotAtAll(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := h.record(placed("user_1", "key-1", 4900, t0))
	h.halt()

	o := placed("user_1", "key-2", 500, t0)
	typ, body, err := domain.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	good := eventstore.EventData{ID: uuid.New(), Type: typ, Data: body}
	bad := eventstore.EventData{ID: uuid.New(), Type: domain.EventOrderPaid, Data: []byte(`{"order_id": 42}`)}
	if _, err := h.store.Append(ctx, o.StreamID(), eventstore.NoStream, good, bad); err != nil {
		t.Fatal(err)
	}

	rm, err := projections.Open(ctx, h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	p := projections.NewProjector(rm, h.store, nil)
	runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Run(runCtx); err == nil || !strings.Contains(err.Error(), domain.EventOrderPaid) {
		t.Fatalf("Run over an undecodable order.paid: %v, want an error naming it", err)
	}
	if got, err := rm.Checkpoint(ctx); err != nil || got != before {
		t.Fatalf("checkpoint %d, %v; want it unmoved at %d", got, err, before)
	}
	_, err = rm.Order(ctx, "user_1", string(o.OrderID))
	wantErr(t, err, projections.ErrNotFound, "the order placed in the failed batch")
}

func TestProjectorNeedsWritableReadModels(t *testing.T) {
	h := newHarness(t)
	rm, err := projections.OpenReadOnly(context.Background(), h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	if err := projections.NewProjector(rm, h.store, nil).Run(context.Background()); err == nil {
		t.Fatal("a projector ran on read models opened read-only")
	}
}

// TestReadModelsOfAnotherLogAreRefused: read models whose checkpoint names
// no event of the store (a store restored from an older backup, or
// replaced) would silently skip events; the projector refuses to run and
// says to rebuild them.
func TestReadModelsOfAnotherLogAreRefused(t *testing.T) {
	h := newHarness(t)
	h.record(placed("user_1", "key-1", 4900, t0), placed("user_1", "key-2", 4900, t0))
	h.halt()

	other := newHarness(t) // another, empty log
	other.halt()
	rm, err := projections.Open(context.Background(), h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	err = projections.NewProjector(rm, other.store, nil).Run(context.Background())
	if !errors.Is(err, eventstore.ErrForeignCheckpoint) || !strings.Contains(err.Error(), "projections rebuild") {
		t.Fatalf("projector on another log: got %v, want ErrForeignCheckpoint naming the rebuild", err)
	}
}
