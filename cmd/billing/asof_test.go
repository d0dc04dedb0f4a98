package main

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAsOfReads: the three lists as the ledger stood at a moment (api.md,
// "History: as-of reads"): an order paid then refunded shows paid before
// the refund; a subscription active then canceled shows active; a card
// saved later is not there yet; paging keeps its rules; verify --as-of
// agrees with the log; bad times are refused.
func TestAsOfReads(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	before := time.Now().UTC()
	first := alice.saveCard(visa)
	o1 := alice.buy(orderBody(first, fixedPlan, "k1"))
	o2 := alice.buy(orderBody(first, fixedPlan, "k2"))
	sub := alice.buy(orderBody(first, monthlyPlan, "k3"))
	eventually(t, func() bool { return alice.newestSubscription().Status == "active" }, "the subscription to start")
	paid := time.Now().UTC() // every event so far was recorded before
	alice.want(alice.call(http.MethodPost, "/v1/me/wallet/orders/"+o1.ID+"/refund", nil), http.StatusOK, "")
	alice.want(alice.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+*sub.SubscriptionID, nil), http.StatusOK, "")
	second := alice.saveCard(mastercard)
	o3 := alice.buy(orderBody(second, fixedPlan, "k4"))

	at := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	then := alice.orders("?as_of=" + at(paid)).Data
	if len(then) != 3 || then[0].ID != sub.ID || then[1].ID != o2.ID || then[2].ID != o1.ID {
		t.Fatalf("orders as of the payments: %+v", then)
	}
	if then[2].Status != "paid" || !then[2].IsRefundable || then[2].RefundedAt != nil {
		t.Fatalf("order %s as of before its refund = %+v, want paid and refundable", o1.ID, then[2])
	}
	if now := alice.orders("").Data; len(now) != 4 || now[3].Status != "refunded" || now[0].ID != o3.ID {
		t.Fatalf("orders now: %+v", now)
	}
	if got := alice.orders("?as_of=" + at(before)).Data; len(got) != 0 {
		t.Fatalf("orders as of before any: %+v", got)
	}
	// Paging as of the payments, one at a time, by amount too.
	var ids []string
	for after := ""; ; {
		q := "?limit=1&as_of=" + at(paid)
		if after != "" {
			q += "&after_public_id=" + after
		}
		page := alice.orders(q)
		for _, o := range page.Data {
			ids = append(ids, o.ID)
		}
		if !page.HasMore {
			break
		}
		after = page.NextCursor
	}
	if strings.Join(ids, ",") != strings.Join([]string{sub.ID, o2.ID, o1.ID}, ",") {
		t.Fatalf("paging as of the payments gave %v", ids)
	}
	if got := alice.orders("?order_by_asc=amount&limit=2&as_of=" + at(paid)); len(got.Data) != 2 || !got.HasMore {
		t.Fatalf("by amount as of the payments: %+v", got)
	}
	// An order placed later is no cursor as of before it.
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders?after_public_id="+o3.ID+"&as_of="+at(paid), nil), http.StatusBadRequest, "invalid_request")

	var subs struct{ Data []subscription }
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/subscriptions?as_of="+at(paid), nil), http.StatusOK, "").decode(t, &subs)
	if len(subs.Data) != 1 || subs.Data[0].Status != "active" || subs.Data[0].CanceledAt != nil {
		t.Fatalf("subscriptions as of the payments: %+v", subs.Data)
	}
	if now := alice.subscriptions(); now[0].Status != "canceled" {
		t.Fatalf("subscription now: %+v", now[0])
	}
	var cards struct{ Data []paymentMethod }
	alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods?as_of="+at(paid), nil), http.StatusOK, "").decode(t, &cards)
	if len(cards.Data) != 1 || cards.Data[0].ID != first {
		t.Fatalf("cards as of the payments: %+v", cards.Data)
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods?as_of="+at(before), nil), http.StatusOK, "").decode(t, &cards)
	if len(cards.Data) != 0 {
		t.Fatalf("cards as of before any: %+v", cards.Data)
	}

	for _, bad := range []string{at(time.Now().Add(time.Hour)), "yesterday", "", "2026-13-01T00:00:00Z"} {
		for _, route := range []string{"/v1/me/wallet/orders", "/v1/me/wallet/subscriptions", "/v1/me/payment-methods"} {
			a := alice.want(alice.call(http.MethodGet, route+"?as_of="+bad, nil), http.StatusBadRequest, "invalid_request")
			if !strings.Contains(string(a.body), "as_of") {
				t.Errorf("%s?as_of=%s: %s, want as_of named", route, bad, a.body)
			}
		}
	}

	for _, when := range []time.Time{before, paid, time.Now()} {
		if out, _, err := runCLI(t, dir, "verify", "--as-of", when.Format(time.RFC3339Nano)); err != nil {
			t.Fatalf("verify --as-of %v: %v\n%s", when, err, out)
		}
	}

	// as_of is the real time events were recorded, never the test clock:
	// orders placed after an advance a year ahead are there as of now.
	ahead := time.Now().AddDate(1, 0, 0).UTC()
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", map[string]any{"to": ahead.Format(time.RFC3339)}), http.StatusOK, "")
	late := alice.buy(orderBody(second, fixedPlan, "k5"))
	if got := alice.orders("?limit=1&as_of=" + at(time.Now())).Data; len(got) != 1 || got[0].ID != late.ID || !got[0].CreatedAt.After(time.Now()) {
		t.Fatalf("as of now, after a test clock advance: %+v, want the order placed at the clock's time", got)
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/wallet/orders?as_of="+at(ahead), nil), http.StatusBadRequest, "invalid_request")

	// A read model that tells another story than the log, as of then.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+dir+"/readmodels.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE orders SET body = replace(body, '"amount":4900', '"amount":4901') WHERE id = ?`, o2.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, err := runCLI(t, dir, "verify", "--as-of", paid.Format(time.RFC3339Nano))
	if err == nil || !strings.Contains(out, "orders "+o2.ID+": as of ") {
		t.Fatalf("verify --as-of of a tampered read model: %v\n%s", err, out)
	}
}
