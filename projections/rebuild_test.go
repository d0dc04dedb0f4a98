package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// recordScenario records a bit of everything for two users: orders paid,
// failed and refunded, a subscription started, cards attached and one
// detached, and the plan catalog.
func recordScenario(h *harness) (paidOrder domain.OrderPlaced, card domain.CardAttached) {
	h.t.Helper()
	if _, err := app.SyncCatalog(context.Background(), h.log, domain.DefaultPlans(), app.Metadata{}); err != nil {
		h.t.Fatal(err)
	}
	paidOrder = placed("user_1", "key-1", 4900, t0)
	failed := placed("user_1", "key-2", 500, t0.Add(time.Minute))
	refunded := placed("user_2", "key-1", 2500, t0)
	sub := placed("user_2", "key-2", 19900, t0.Add(time.Minute))
	sub.SubscriptionID = domain.SubscriptionIDFor(sub.OrderID)
	card = attached("user_1", 1, t0)
	gone := attached("user_2", 2, t0)
	h.record(
		card, gone,
		paidOrder, paid(paidOrder, t0),
		failed, domain.OrderPaymentFailed{OrderRef: failed.OrderRef, FailureCode: "card_declined", FailedAt: t0},
		refunded, paid(refunded, t0),
		domain.RefundRequested{OrderRef: refunded.OrderRef, RefundID: domain.RefundIDFor(refunded.OrderID), RequestedAt: t0},
		domain.OrderRefunded{OrderRef: refunded.OrderRef, RefundID: domain.RefundIDFor(refunded.OrderID), RefundedAt: t0.Add(time.Hour)},
		sub, created(sub), paid(sub, t0),
		domain.SubscriptionStarted{SubscriptionRef: subscriptionFor(sub), CurrentPeriodStart: t0, CurrentPeriodEnd: t0.AddDate(0, 1, 0)},
		domain.CardDetached{UserID: "user_2", PaymentMethodID: gone.PaymentMethodID, DetachedAt: t0},
	)
	return paidOrder, card
}

// TestRebuildEqualsLive: read models folded afresh from the whole log equal
// those the projector kept up to date, and serving resumes on them.
func TestRebuildEqualsLive(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	recordScenario(h)
	head := h.head()
	h.halt()
	live := dump(t, h.path)
	if err := os.WriteFile(h.path+".rebuild", []byte("left by a crashed rebuild"), 0o600); err != nil {
		t.Fatal(err)
	}

	var done, total uint64
	err := projections.Rebuild(ctx, h.store, h.path, func(d, t uint64) { done, total = d, t })
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, dump(t, h.path), live, "rebuilt and live read models")
	if done != uint64(head) || total != uint64(head) {
		t.Fatalf("last progress %d/%d, want %d/%d", done, total, head, head)
	}
	if _, err := os.Stat(h.path + ".rebuild"); !os.IsNotExist(err) {
		t.Fatalf("the rebuild's working file remains: %v", err)
	}

	h.start()
	if got, err := h.rm.Checkpoint(ctx); err != nil || got != head {
		t.Fatalf("checkpoint after rebuild %d, %v; want %d", got, err, head)
	}
	o := placed("user_1", "after-rebuild", 100, t0)
	h.record(o)
	if _, err := h.rm.Order(ctx, "user_1", string(o.OrderID)); err != nil {
		t.Fatalf("projector after rebuild: %v", err)
	}
}

// TestRebuildOfALogLongerThanABatch: a rebuild folds a long log in
// batches, all in one transaction; orders placed in one batch and paid,
// refunded or placed again in a later one come out as the projector
// folded them.
func TestRebuildOfALogLongerThanABatch(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	paidLater := placed("user_1", "paid-later", 4900, t0)
	refundedLater := placed("user_2", "refunded-later", 2500, t0)
	h.record(paidLater, refundedLater, paid(refundedLater, t0))
	// More events than a rebuild reads at once, of a type no read model
	// folds: the next events land in another batch.
	filler := make([]eventstore.EventData, 20000)
	for i := range filler {
		filler[i] = eventstore.EventData{ID: uuid.New(), Type: "test.filler", Data: []byte(`{}`)}
	}
	if _, err := h.store.Append(ctx, "filler", eventstore.NoStream, filler...); err != nil {
		t.Fatal(err)
	}
	again := paidLater
	again.Amount = 1 // placed again: the first placement stands
	h.record(
		paid(paidLater, t0.Add(time.Minute)), again,
		domain.RefundRequested{OrderRef: refundedLater.OrderRef, RefundID: domain.RefundIDFor(refundedLater.OrderID), RequestedAt: t0},
		placed("user_1", "after-filler", 100, t0),
	)
	h.halt()
	live := dump(t, h.path)
	if err := projections.Rebuild(ctx, h.store, h.path, nil); err != nil {
		t.Fatal(err)
	}
	sameLines(t, dump(t, h.path), live, "rebuilt and live read models")
	rm, err := projections.OpenReadOnly(ctx, h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	for _, want := range []struct {
		o      domain.OrderPlaced
		status string
	}{{paidLater, "paid"}, {refundedLater, "refund_pending"}} {
		o, err := rm.Order(ctx, want.o.UserID, string(want.o.OrderID))
		if err != nil || o.Status != want.status || o.Amount != want.o.Amount {
			t.Fatalf("rebuilt order %s: %+v, %v; want %s for %d", want.o.OrderID, o, err, want.status, want.o.Amount)
		}
	}
}

// TestManyNewOrdersAtOnce: a rebuild writes new orders several to a
// statement, in statements of 64 rows, then 32 and so on down to one. It
// folds 127 orders, each placed at the start of its stream and then paid
// or left pending, in one batch, which takes every size; every order comes
// out as its events say, rebuilt as live.
func TestManyNewOrdersAtOnce(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const n = 127
	var events []domain.Event
	want := make(map[string]string, n)
	for i := range n {
		o := placed(fmt.Sprintf("user_%d", i%5), fmt.Sprintf("key-%d", i), int64(100+i), t0.Add(time.Duration(i)*time.Second))
		events = append(events, o)
		want[string(o.OrderID)] = fmt.Sprint("pending ", o.Amount)
		if i%3 != 0 {
			events = append(events, paid(o, t0.Add(time.Hour)))
			want[string(o.OrderID)] = fmt.Sprint("paid ", o.Amount)
		}
	}
	h.record(events...)
	h.halt()
	check := func(what string) {
		t.Helper()
		rows, err := openRaw(t, h.path).Query(`SELECT id, status, amount FROM orders`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := make(map[string]string)
		for rows.Next() {
			var id, status string
			var amount int64
			if err := rows.Scan(&id, &status, &amount); err != nil {
				t.Fatal(err)
			}
			got[id] = fmt.Sprint(status, " ", amount)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: %d orders %v; want %d %v", what, len(got), got, len(want), want)
		}
	}
	check("live")
	live := dump(t, h.path)
	if err := projections.Rebuild(ctx, h.store, h.path, nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
	sameLines(t, dump(t, h.path), live, "rebuilt and live read models")
}

// TestRebuildOfAnOrderPlacedElsewhereFirst: a placement recorded outside
// its order's stream (which this service never writes) before the one
// that starts the stream leaves a row the rebuild does not take for new,
// even once it no longer remembers the order (orders enough in between
// for its cache of recent ones, 16,384, to drop it two batches before):
// the first placement stands.
func TestRebuildOfAnOrderPlacedElsewhereFirst(t *testing.T) {
	h := newHarness(t)
	h.halt() // the rebuild alone folds the log
	ctx := context.Background()
	o := placed("user_1", "elsewhere", 4900, t0)
	const between = 35000
	var events []eventstore.EventData
	for i := range between + 1 {
		e := o
		if i > 0 {
			e = placed(fmt.Sprintf("user_%d", 2+i%20), fmt.Sprint("between-", i), 100, t0)
		}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, eventstore.EventData{ID: uuid.New(), Type: e.EventType(), Data: data})
	}
	if _, err := h.store.Append(ctx, "elsewhere-1", eventstore.NoStream, events...); err != nil {
		t.Fatal(err)
	}
	again := o
	again.Amount = 1
	h.append(again) // the first event of the order's own stream
	h.append(paid(o, t0.Add(time.Minute)))
	if err := projections.Rebuild(ctx, h.store, h.path, nil); err != nil {
		t.Fatal(err)
	}
	rm, err := projections.OpenReadOnly(ctx, h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	got, err := rm.Order(ctx, o.UserID, string(o.OrderID))
	if err != nil || got.Status != "paid" || got.Amount != o.Amount {
		t.Fatalf("rebuilt order: %+v, %v; want paid for %d", got, err, o.Amount)
	}
	var n int
	if err := openRaw(t, h.path).QueryRow(`SELECT count(*) FROM orders`).Scan(&n); err != nil || n != between+1 {
		t.Fatalf("rebuilt %d orders, %v; want %d", n, err, between+1)
	}
}

// TestRebuildRefusesWhileServing: a running server holds the read models;
// a rebuild, or a second server, is refused with a message saying so,
// while read-only opens still work beside it.
func TestRebuildRefusesWhileServing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	err := projections.Rebuild(ctx, h.store, h.path, nil)
	wantErr(t, err, projections.ErrLocked, "rebuild while serving")
	if !strings.Contains(err.Error(), "billing serve") {
		t.Fatalf("error %q does not say what holds the read models", err)
	}
	_, err = projections.Open(ctx, h.path)
	wantErr(t, err, projections.ErrLocked, "a second Open")
	rm, err := projections.OpenReadOnly(ctx, h.path)
	if err != nil {
		t.Fatalf("read-only open beside the server: %v", err)
	}
	rm.Close()
}

// TestVerifyFindsTampering: read models equal to the log verify clean; a
// row changed, deleted or added behind the projector's back is listed.
func TestVerifyFindsTampering(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	paidOrder, card := recordScenario(h)
	diffs, err := projections.Verify(ctx, h.store, h.path, nil)
	if err != nil || len(diffs) != 0 {
		t.Fatalf("verify untouched read models: %q, %v; want no differences", diffs, err)
	}

	db := openRaw(t, h.path)
	for _, stmt := range []string{
		`UPDATE orders SET status = 'refunded' WHERE id = '` + string(paidOrder.OrderID) + `'`,
		`DELETE FROM payment_methods WHERE id = '` + string(card.PaymentMethodID) + `'`,
		`INSERT INTO subscriptions (id, user_id, plan_id, order_id, status, created_at)
			VALUES ('sub_forged', 'user_1', 'plan_x', 'ord_x', 'active', 0)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err = projections.Verify(ctx, h.store, h.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameLines(t, diffs, []string{
		"payment_methods " + string(card.PaymentMethodID) + ": missing from live",
		"orders " + string(paidOrder.OrderID) + ": status live=refunded rebuilt=paid",
		"subscriptions sub_forged: only in live",
	}, "differences")
}

// TestVerifyBesideABusyServer: verify compares one consistent snapshot of
// the live read models, however many events the projector applies
// meanwhile.
func TestVerifyBesideABusyServer(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	recordScenario(h)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			o := placed("user_3", fmt.Sprintf("busy-%d", i), int64(100+i), t0)
			if _, err := h.log.Append(ctx, o.StreamID(), eventstore.NoStream, []domain.Event{o, paid(o, t0)}, nil, app.Metadata{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for range 3 {
		var done, total uint64
		diffs, err := projections.Verify(ctx, h.store, h.path, func(d, t uint64) { done, total = d, t })
		if err != nil || len(diffs) != 0 {
			t.Fatalf("verify beside a busy server: %q, %v", diffs, err)
		}
		if done != total {
			t.Fatalf("verify folded to %d of %d", done, total)
		}
	}
}
