package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/reconciler"
)

func historyJSON(t *testing.T, dir string, args ...string) story {
	t.Helper()
	out, _, err := runCLI(t, dir, append([]string{"history", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("history %v: %v", args, err)
	}
	var s story
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("history %v --json: %v\n%s", args, err, out)
	}
	return s
}

func types(s story) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, e.Type)
	}
	return out
}

// TestHistoryTellsAnOrdersStory: an order's events with their causes,
// requests, keys, provider calls and objects and the status after each,
// as a table and as JSON, whole and as of a time; and a subscription's,
// with its renewal orders.
func TestHistoryTellsAnOrdersStory(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	o := alice.buy(orderBody(pm, fixedPlan, "pack-1"))
	paidAt := time.Now().UTC()
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "")

	story := historyJSON(t, dir, o.ID)
	if want := []string{"order.placed", "order.paid", "order.refund_requested", "order.refunded"}; !slices.Equal(types(story), want) {
		t.Fatalf("story of %s: %v, want %v", o.ID, types(story), want)
	}
	var statuses []string
	for _, e := range story.Events {
		statuses = append(statuses, e.Status)
	}
	if want := []string{"pending", "paid", "refund_pending", "refunded"}; !slices.Equal(statuses, want) || story.Status != "refunded" {
		t.Fatalf("statuses %v (%s), want %v", statuses, story.Status, want)
	}
	placed, paid, requested, refunded := story.Events[0], story.Events[1], story.Events[2], story.Events[3]
	if placed.IdempotencyKey != "pack-1" || !strings.HasPrefix(placed.RequestID, "req_") || placed.UserID != "alice" {
		t.Errorf("order.placed says %+v: want the request, its key and the user", placed)
	}
	if want := reconciler.PaymentKey(uuid.MustParse(placed.EventID)); !slices.Equal(placed.ProviderKeys, []string{want}) {
		t.Errorf("order.placed's provider call %v, want %s", placed.ProviderKeys, want)
	}
	if paid.CausationID != placed.EventID || !strings.HasPrefix(paid.ProviderIDs["payment_id"], "pi_") {
		t.Errorf("order.paid says %+v: want caused by order.placed, with the provider's payment", paid)
	}
	if requested.ProviderKeys[0] != reconciler.RefundKey(uuid.MustParse(requested.EventID)) || refunded.CausationID != requested.EventID ||
		!strings.HasPrefix(refunded.ProviderIDs["refund_id"], "re_") {
		t.Errorf("the refund's events say %+v and %+v", requested, refunded)
	}

	table, _, err := runCLI(t, dir, "history", o.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"order " + o.ID + ": refunded after 4 events", "order.placed", "pack-1", "call " + placed.ProviderKeys[0],
		"payment_id " + paid.ProviderIDs["payment_id"], fmt.Sprintf("%d order.placed", placed.Position), placed.RequestID} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}

	asOf := historyJSON(t, dir, o.ID, "--as-of", paid.RecordedAt.Format(time.RFC3339Nano))
	if len(asOf.Events) != 2 || asOf.Status != "paid" || asOf.AsOf == nil {
		t.Fatalf("as of its payment the story is %v (%s)", types(asOf), asOf.Status)
	}
	if _, _, err := runCLI(t, dir, "history", o.ID, "--as-of", paidAt.Add(-time.Hour).Format(time.RFC3339)); err == nil ||
		!strings.Contains(err.Error(), "knew nothing of "+o.ID) {
		t.Errorf("as of before the order: %v", err)
	}

	// A subscription: its events, its first order's and a renewal's.
	first := alice.buy(orderBody(pm, monthlyPlan, "fleet"))
	sub := alice.newestSubscription()
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": sub.CurrentPeriodEnd.Add(time.Hour).Format(time.RFC3339)}),
		http.StatusOK, "")
	subStory := historyJSON(t, dir, sub.ID)
	got := strings.Join(types(subStory), " ")
	for _, want := range []string{"order.placed", "subscription.created", "order.paid", "subscription.started", "subscription.renewal_due", "subscription.renewed"} {
		if !strings.Contains(got, want) {
			t.Errorf("the subscription's story %s lacks %s", got, want)
		}
	}
	if n := strings.Count(got, "order.paid"); n != 2 || subStory.Status != "active" {
		t.Errorf("the subscription's story has %d payments (%s), want its first and its renewal, active", n, subStory.Status)
	}
	firstStory := historyJSON(t, dir, first.ID)
	if got := strings.Join(types(firstStory), " "); !strings.Contains(got, "subscription.started") || strings.Count(got, "order.paid") != 1 {
		t.Errorf("the first order's story %s: want its subscription's start and only its own payment", got)
	}

	for _, c := range []struct{ id, want string }{
		{"ord_00000000000000000000000000000000", "the log knows no order"},
		{"sub_00000000000000000000000000000000", "the log knows no subscription"},
		{"ord_nope", "not an order id"},
		{"pm_123", "neither an order id"},
	} {
		if _, _, err := runCLI(t, dir, "history", c.id); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("history %s: %v, want %q", c.id, err, c.want)
		}
	}
}
