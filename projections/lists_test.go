package projections_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
)

// TestPaymentMethodsPageByCursor: five cards, two per page, newest first,
// each exactly once; the last page has no cursor.
func TestPaymentMethodsPageByCursor(t *testing.T) {
	h := newHarness(t)
	var rows []createdRow
	for i := range 5 {
		pm := attached("user_1", i, t0.Add(time.Duration(i/2)*time.Minute)) // ties in time, broken by id
		h.record(pm)
		rows = append(rows, createdRow{string(pm.PaymentMethodID), pm.AttachedAt})
	}
	want := newestFirst(rows)
	var got []string
	page := projections.Page{Limit: 2}
	for range 10 {
		items, next, err := h.rm.PaymentMethods(context.Background(), "user_1", page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(items, func(pm projections.PaymentMethod) string { return pm.ID })...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	sameLines(t, got, want, "payment method ids")
}

// createdRow is a row's id and creation time.
type createdRow struct {
	id string
	at time.Time
}

// newestFirst is the ids of rows, newest first, ties by id descending.
func newestFirst(rows []createdRow) []string {
	s := slices.Clone(rows)
	slices.SortFunc(s, func(a, b createdRow) int {
		return -cmp.Or(a.at.Compare(b.at), strings.Compare(a.id, b.id))
	})
	return ids(s, func(r createdRow) string { return r.id })
}

func TestSubscriptionsPageByCursor(t *testing.T) {
	h := newHarness(t)
	var rows []createdRow
	for i := range 5 {
		o := placed("user_1", fmt.Sprintf("key-%d", i), 19900, t0.Add(time.Duration(i/2)*time.Minute))
		h.record(created(o))
		rows = append(rows, createdRow{string(domain.SubscriptionIDFor(o.OrderID)), o.PlacedAt})
	}
	want := newestFirst(rows)
	var got []string
	page := projections.Page{Limit: 2}
	for range 10 {
		items, next, err := h.rm.Subscriptions(context.Background(), "user_1", page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(items, func(s projections.Subscription) string { return s.ID })...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	sameLines(t, got, want, "subscription ids")
}

// TestTamperedCursors: a cursor that does not decode, names nothing, or
// names another user's row is ErrInvalidCursor.
func TestTamperedCursors(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for i := range 3 {
		h.record(attached("user_1", i, t0.Add(time.Duration(i)*time.Minute)))
		h.record(attached("user_2", 10+i, t0))
		h.record(created(placed("user_1", fmt.Sprintf("k%d", i), 19900, t0)))
		h.record(created(placed("user_2", fmt.Sprintf("k%d", i), 19900, t0)))
	}
	_, theirCard, err := h.rm.PaymentMethods(ctx, "user_2", projections.Page{Limit: 1})
	if err != nil || theirCard == "" {
		t.Fatalf("user_2's next cursor %q, %v", theirCard, err)
	}
	_, theirSub, err := h.rm.Subscriptions(ctx, "user_2", projections.Page{Limit: 1})
	if err != nil || theirSub == "" {
		t.Fatalf("user_2's next cursor %q, %v", theirSub, err)
	}
	_, mine, err := h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 1})
	if err != nil || mine == "" {
		t.Fatalf("user_1's next cursor %q, %v", mine, err)
	}
	flipped := []byte(mine)
	flipped[3] ^= 1
	cursors := map[string]string{
		"not base64":        "not base64!",
		"base64 of nothing": base64.RawURLEncoding.EncodeToString([]byte("pm_nope")),
		"altered":           string(flipped),
		"padded":            mine + "==",
	}
	for name, c := range cursors {
		_, _, err := h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 1, Cursor: c})
		wantErr(t, err, projections.ErrInvalidCursor, "payment methods, "+name)
		_, _, err = h.rm.Subscriptions(ctx, "user_1", projections.Page{Limit: 1, Cursor: c})
		wantErr(t, err, projections.ErrInvalidCursor, "subscriptions, "+name)
	}
	_, _, err = h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 1, Cursor: theirCard})
	wantErr(t, err, projections.ErrInvalidCursor, "another user's card as cursor")
	_, _, err = h.rm.Subscriptions(ctx, "user_1", projections.Page{Limit: 1, Cursor: theirSub})
	wantErr(t, err, projections.ErrInvalidCursor, "another user's subscription as cursor")
}

// TestUsersSeeOnlyTheirOwn: another user's rows are not listed, and asking
// for one by id is exactly like asking for an id that does not exist.
func TestUsersSeeOnlyTheirOwn(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	theirs := placed("user_2", "key-1", 4900, t0)
	theirCard := attached("user_2", 1, t0)
	h.record(theirs, created(theirs))
	h.record(theirCard)
	mine := placed("user_1", "key-1", 500, t0)
	h.record(mine)

	_, err := h.rm.Order(ctx, "user_1", string(theirs.OrderID))
	wantErr(t, err, projections.ErrNotFound, "another user's order")
	_, err = h.rm.Order(ctx, "user_1", "ord_00000000000000000000000000000000")
	wantErr(t, err, projections.ErrNotFound, "an unknown order")
	_, err = h.rm.Subscription(ctx, "user_1", string(domain.SubscriptionIDFor(theirs.OrderID)))
	wantErr(t, err, projections.ErrNotFound, "another user's subscription")
	_, err = h.rm.PaymentMethod(ctx, "user_1", string(theirCard.PaymentMethodID))
	wantErr(t, err, projections.ErrNotFound, "another user's card")

	orders, _, err := h.rm.Orders(ctx, "user_1", projections.OrderQuery{Limit: 100})
	if err != nil || len(orders) != 1 || orders[0].ID != string(mine.OrderID) {
		t.Fatalf("user_1's orders: %+v, %v; want only their one", orders, err)
	}
	if subs, _, err := h.rm.Subscriptions(ctx, "user_1", projections.Page{Limit: 100}); err != nil || len(subs) != 0 {
		t.Fatalf("user_1's subscriptions: %+v, %v; want none", subs, err)
	}
	if cards, _, err := h.rm.PaymentMethods(ctx, "user_1", projections.Page{Limit: 100}); err != nil || len(cards) != 0 {
		t.Fatalf("user_1's cards: %+v, %v; want none", cards, err)
	}
}
