package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// projectorRun is the projector's loop over one database, in either mode:
// begin once, fold batches, written() after each, commit at the points
// given, and a restart (a folder with an empty cache, as a new process)
// at the points given.
type projectorRun struct {
	t       *testing.T
	rm      *ReadModels
	f       *folder
	hold    bool
	w       *writeTx
	heard   [][]Order // written() of each batch, sorted by id
	commits [][]string
}

func (r *projectorRun) batch(events []event) {
	ctx := context.Background()
	if r.w == nil {
		w, err := r.f.begin(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		w.hold = r.hold
		r.w = w
	}
	folded, err := r.w.fold(ctx, events)
	if err != nil {
		r.t.Fatal(err)
	}
	var got []Order
	if folded {
		got = r.w.written()
	}
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	r.heard = append(r.heard, got)
}

func (r *projectorRun) commit() {
	if r.w == nil {
		return
	}
	if err := r.w.commit(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.w = nil
	r.commits = append(r.commits, orderRows(r.t, r.rm.writer))
}

func (r *projectorRun) restart() {
	r.commit()
	r.f = newFolder(r.rm.writer)
	r.f.pages = r.rm.pages
}

type step struct {
	events  []event
	commit  bool
	restart bool
	abort   bool // the projector stops before committing: rolled back, folded again
}

func randomLog(rng *rand.Rand, n int, placeAgain bool) []event {
	var log []event
	var pos eventstore.Position
	revisions := make(map[string]uint64) // the next of each stream
	add := func(e domain.Event) {
		pos++
		stream := e.(interface{ StreamID() string }).StreamID()
		log = append(log, event{rec: eventstore.RecordedEvent{Type: e.EventType(), Stream: stream, Revision: revisions[stream],
			Position: pos, RecordedAt: t0.Add(time.Duration(pos) * time.Millisecond)}, e: e})
		revisions[stream]++
	}
	type st struct {
		p      domain.OrderPlaced
		status string
	}
	var orders []*st
	for range n {
		if len(orders) == 0 || rng.IntN(4) == 0 {
			user := fmt.Sprint("user_", rng.IntN(3))
			key := fmt.Sprint(len(orders))
			p := domain.OrderPlaced{OrderRef: domain.OrderRef{OrderID: domain.OrderIDFor(user, key), UserID: user,
				PlanID: "plan_1", Amount: int64(100 + len(orders)), Currency: "usd"}, PaymentMethodID: "pm_1", IdempotencyKey: key, PlacedAt: t0.Add(time.Duration(len(orders)) * time.Second)}
			orders = append(orders, &st{p: p, status: "pending"})
			add(p)
			continue
		}
		o := orders[rng.IntN(len(orders))]
		ref := o.p.OrderRef
		if placeAgain && rng.IntN(8) == 0 { // placed again, another body: the first stands
			again := o.p
			again.Amount, again.PaymentMethodID, again.PlacedAt = 1, "pm_other", t0.Add(time.Hour)
			add(again)
			continue
		}
		switch o.status {
		case "pending":
			switch rng.IntN(3) {
			case 0:
				add(domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi", PaidAt: t0})
				o.status = "paid"
			case 1:
				add(domain.OrderPaymentFailed{OrderRef: ref, FailureCode: "card_declined", FailedAt: t0})
				o.status = "failed"
			default:
				add(domain.PaymentAttemptFailed{OrderRef: ref, Attempt: 1, FailureCode: "insufficient_funds", FailedAt: t0})
			}
		case "paid":
			add(domain.RefundRequested{OrderRef: ref, RefundID: domain.RefundIDFor(ref.OrderID), RequestedAt: t0})
			o.status = "refund_pending"
		case "refund_pending":
			if rng.IntN(2) == 0 {
				add(domain.OrderRefunded{OrderRef: ref, RefundID: domain.RefundIDFor(ref.OrderID), RefundedAt: t0})
				o.status = "refunded"
			} else {
				add(domain.RefundFailed{OrderRef: ref, RefundID: domain.RefundIDFor(ref.OrderID), FailureCode: "x", FailedAt: t0})
				o.status = "paid"
			}
		}
	}
	return log
}

func randomSteps(rng *rand.Rand, log []event) []step {
	var steps []step
	for from := 0; from < len(log); {
		n := 1 + rng.IntN(4)
		to := min(from+n, len(log))
		steps = append(steps, step{events: log[from:to], commit: rng.IntN(3) == 0, restart: rng.IntN(6) == 0, abort: rng.IntN(7) == 0})
		from = to
	}
	return steps
}

func play(t *testing.T, hold bool, steps []step) *projectorRun {
	rm := openTest(t)
	r := &projectorRun{t: t, rm: rm, f: rm.folds, hold: hold}
	aborted := make([]bool, len(steps))
	committed := 0 // steps before this one are committed
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		r.batch(s.events)
		if s.abort && !aborted[i] {
			aborted[i] = true
			r.w.rollback()
			r.w = nil
			r.f.recent.Purge() // as Projector.run does
			if rng := i % 2; rng == 0 {
				r.f = newFolder(rm.writer) // or a new process
				r.f.pages = rm.pages
			}
			i = committed - 1
			continue
		}
		if s.commit {
			r.commit()
			committed = i + 1
		}
		if s.restart {
			r.restart()
			committed = i + 1
		}
	}
	r.commit()
	return r
}

// TestHoldingFoldsAsBatchByBatch: the projector's transaction that holds
// its new pending orders until they settle or it commits tells the
// watches of each batch what the per-batch writes told them, and commits
// the same rows, over random logs with orders changed in several batches
// of one transaction, placed again, transactions rolled back and folded
// again, and restarts (an empty cache) between transactions.
func TestHoldingFoldsAsBatchByBatch(t *testing.T) {
	for _, again := range []bool{false, true} {
		t.Run(fmt.Sprint("placeAgain=", again), func(t *testing.T) { holdingFoldsAsBatchByBatch(t, again) })
	}
}

func holdingFoldsAsBatchByBatch(t *testing.T, placeAgain bool) {
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 1))
		steps := randomSteps(rng, randomLog(rng, 40, placeAgain))
		old, now := play(t, false, steps), play(t, true, steps)
		for i := range old.commits {
			if !reflect.DeepEqual(old.commits[i], now.commits[i]) {
				t.Fatalf("seed %d: commit %d differs:\nper batch: %v\nholding:   %v", seed, i, old.commits[i], now.commits[i])
			}
		}
		for i := range old.heard {
			if !reflect.DeepEqual(old.heard[i], now.heard[i]) {
				t.Fatalf("seed %d: batch %d (%d events) told the watches\nholding:   %+v\nper batch: %+v", seed, i, len(steps[i].events), now.heard[i], old.heard[i])
			}
		}
		checkUnsettled(t, now.rm)
	}
}

// checkUnsettled: the partial index holds exactly the pending and
// refund_pending orders, and the file is sound.
func checkUnsettled(t *testing.T, rm *ReadModels) {
	t.Helper()
	q := func(sql string) []string {
		rows, err := rm.writer.Query(sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	a := q(`SELECT id FROM orders INDEXED BY orders_unsettled WHERE status IN ('pending','refund_pending') ORDER BY id`)
	b := q(`SELECT id FROM orders NOT INDEXED WHERE status IN ('pending','refund_pending') ORDER BY id`)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("unsettled index %v, table %v", a, b)
	}
	if ic := q(`PRAGMA integrity_check`); len(ic) != 1 || ic[0] != "ok" {
		t.Fatalf("integrity_check: %v", ic)
	}
}

// TestHoldingWatchOfAnOrderPlacedAgain: an order placed again, its row
// committed earlier and no longer in the folder's cache (a restart), then
// paid in the next batch of the same transaction: the watches must hear of
// the first placement (what the row will read once committed), as the
// per-batch writes told them.
func TestHoldingWatchOfAnOrderPlacedAgain(t *testing.T) {
	ctx := context.Background()
	rm := openTest(t)
	ref, again := placedAgain(t, rm)

	f := newFolder(rm.writer) // a restarted process: nothing cached
	defer f.Close()
	w, err := f.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.rollback()
	w.hold = true
	if _, err := w.fold(ctx, decode([]eventstore.RecordedEvent{recorded(t, 2, again)})); err != nil {
		t.Fatal(err)
	}
	for _, o := range w.written() {
		if o.Amount != 4900 || o.PaymentMethodID != "pm_1" {
			t.Errorf("batch 1 (placed again): the watches hear of %+v; want the first placement (amount 4900, pm_1) or nothing", o)
		}
	}
	if _, err := w.fold(ctx, decode([]eventstore.RecordedEvent{recorded(t, 3, domain.OrderPaid{OrderRef: ref, PaidAt: t0})})); err != nil {
		t.Fatal(err)
	}
	heard := w.written()
	if len(heard) != 1 || heard[0].Status != "paid" || heard[0].Amount != 4900 || heard[0].PaymentMethodID != "pm_1" || !heard[0].CreatedAt.Equal(t0) {
		t.Errorf("batch 2 (paid): the watches hear of %+v; want the first placement, paid", heard)
	}
	if err := w.commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := rm.Order(ctx, "user_1", "ord_1")
	if err != nil || got.Status != "paid" || got.Amount != 4900 {
		t.Fatalf("row %+v, %v; want the first placement, paid", got, err)
	}
	if len(heard) == 1 && !reflect.DeepEqual(heard[0], got) {
		t.Errorf("the watch's order differs from the committed row:\nwatch: %+v\nrow:   %+v", heard[0], got)
	}
}
