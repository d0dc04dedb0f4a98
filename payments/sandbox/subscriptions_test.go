package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
)

func (e *env) subscribe(cus, pm, interval, key string) (payments.SubscriptionResult, error) {
	return e.sb.StartSubscription(context.Background(), payments.StartSubscription{CustomerID: cus, PaymentMethodID: pm,
		PlanID: "plan_monthly", Amount: 1999, Currency: "usd", Interval: interval, IntervalCount: 1,
		SubscriptionID: "sub_1", OrderID: "ord_1", IdempotencyKey: key})
}

func (e *env) subscriptionStatus(id string) string {
	e.t.Helper()
	var status string
	if err := e.sb.db.QueryRow(`SELECT status FROM subscriptions WHERE id = ?`, id).Scan(&status); err != nil {
		e.t.Fatal(err)
	}
	return status
}

func TestSubscriptionStartsWithAPaidFirstPeriod(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2028, time.January, 31, 10, 0, 0, 0, time.UTC))
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID

	got, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}
	replay, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}

	if !strings.HasPrefix(got.ProviderSubscriptionID, "sub_sbx_") || got.FirstPayment.Status != payments.Succeeded ||
		!strings.HasPrefix(got.FirstPayment.ProviderPaymentID, "pi_sbx_") {
		t.Errorf("got %+v", got)
	}
	wantStart, wantEnd := time.Date(2028, time.January, 31, 10, 0, 0, 0, time.UTC), time.Date(2028, time.February, 29, 10, 0, 0, 0, time.UTC)
	if !got.PeriodStart.Equal(wantStart) || !got.PeriodEnd.Equal(wantEnd) {
		t.Errorf("period %v – %v, want %v – %v", got.PeriodStart, got.PeriodEnd, wantStart, wantEnd)
	}
	if replay.ProviderSubscriptionID != got.ProviderSubscriptionID || replay.FirstPayment != got.FirstPayment || !replay.PeriodEnd.Equal(got.PeriodEnd) {
		t.Errorf("replay = %+v, want %+v", replay, got)
	}
	if subs, charges := e.count("subscriptions"), e.count("charges"); subs != 1 || charges != 1 {
		t.Errorf("subscriptions = %d, charges = %d, want 1 and 1", subs, charges)
	}
	if s := e.subscriptionStatus(got.ProviderSubscriptionID); s != subActive {
		t.Errorf("status = %s, want active", s)
	}
}

func TestSubscriptionOnADecliningCardNeverStarts(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4000000000009995").ProviderPaymentMethodID

	got, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}

	if got.FirstPayment.Status != payments.Failed || got.FirstPayment.FailureCode != payments.CodeInsufficientFunds ||
		!strings.HasPrefix(got.ProviderSubscriptionID, "sub_sbx_") || !got.PeriodEnd.IsZero() {
		t.Errorf("got %+v, want a failed first payment, a sub_sbx_ id and no period", got)
	}
	if s := e.subscriptionStatus(got.ProviderSubscriptionID); s != subIncompleteExpired {
		t.Errorf("status = %s, want %s", s, subIncompleteExpired)
	}
	if _, _, _, err := e.sb.RenewSubscription(context.Background(), got.ProviderSubscriptionID, "renew"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("renewing it: err = %v, want ErrInvalidRequest", err)
	}
}

func TestRenewalChargesAndAdvancesThePeriod(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2028, time.January, 31, 10, 0, 0, 0, time.UTC))
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	sub, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	feb, febStart, febEnd, err := e.sb.RenewSubscription(ctx, sub.ProviderSubscriptionID, "renew-1")
	if err != nil {
		t.Fatal(err)
	}
	replay, _, replayEnd, err := e.sb.RenewSubscription(ctx, sub.ProviderSubscriptionID, "renew-1")
	if err != nil {
		t.Fatal(err)
	}
	_, marStart, marEnd, err := e.sb.RenewSubscription(ctx, sub.ProviderSubscriptionID, "renew-2")
	if err != nil {
		t.Fatal(err)
	}

	at := func(m time.Month, d int) time.Time { return time.Date(2028, m, d, 10, 0, 0, 0, time.UTC) }
	if feb.Status != payments.Succeeded || !febStart.Equal(at(time.February, 29)) || !febEnd.Equal(at(time.March, 31)) {
		t.Errorf("first renewal %+v for %v – %v, want Succeeded for Feb 29 – Mar 31", feb, febStart, febEnd)
	}
	if replay != feb || !replayEnd.Equal(febEnd) {
		t.Errorf("replay = %+v until %v, want %+v until %v", replay, replayEnd, feb, febEnd)
	}
	if !marStart.Equal(at(time.March, 31)) || !marEnd.Equal(at(time.April, 30)) {
		t.Errorf("second renewal for %v – %v, want Mar 31 – Apr 30", marStart, marEnd)
	}
	if n := e.count("charges"); n != 3 {
		t.Errorf("charges = %d, want 3 (start and two renewals)", n)
	}
}

func TestFailedRenewalLeavesThePeriodAndMakesItPastDue(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	form := typedCard("4242424242424242")
	form.Set("exp_month", "4")
	form.Set("exp_year", "2026")
	ss := e.session(cus, "")
	if got := e.post(ss.URL, form); got.status != 200 {
		t.Fatalf("saving the card: %d", got.status)
	}
	pm := e.inbox.events()[0].Card.ProviderPaymentMethodID
	sub, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(sub.PeriodEnd.AddDate(0, 1, 0)) // mid-May: the card expired with April

	got, periodStart, periodEnd, err := e.sb.RenewSubscription(context.Background(), sub.ProviderSubscriptionID, "renew")

	if err != nil || got.Status != payments.Failed || got.FailureCode != payments.CodeExpiredCard {
		t.Fatalf("renewal = %+v, %v; want Failed %s", got, err, payments.CodeExpiredCard)
	}
	if !periodStart.Equal(sub.PeriodStart) || !periodEnd.Equal(sub.PeriodEnd) {
		t.Errorf("period %v – %v, want unchanged %v – %v", periodStart, periodEnd, sub.PeriodStart, sub.PeriodEnd)
	}
	if s := e.subscriptionStatus(sub.ProviderSubscriptionID); s != subPastDue {
		t.Errorf("status = %s, want past_due", s)
	}
}

func TestCancelIsIdempotent(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	sub, err := e.subscribe(cus, pm, "week", "start")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cancel := func(key string) error {
		return e.sb.CancelSubscription(ctx, payments.CancelSubscription{ProviderSubscriptionID: sub.ProviderSubscriptionID, IdempotencyKey: key})
	}

	for _, key := range []string{"cancel", "cancel", "cancel-again"} {
		if err := cancel(key); err != nil {
			t.Errorf("cancel with %s: %v", key, err)
		}
	}

	if s := e.subscriptionStatus(sub.ProviderSubscriptionID); s != subCanceled {
		t.Errorf("status = %s, want canceled", s)
	}
	unknown := e.sb.CancelSubscription(ctx, payments.CancelSubscription{ProviderSubscriptionID: "sub_sbx_UNKNOWN", IdempotencyKey: "x"})
	if !errors.Is(unknown, payments.ErrNotFound) {
		t.Errorf("unknown subscription: %v, want ErrNotFound", unknown)
	}
	if _, _, _, err := e.sb.RenewSubscription(ctx, sub.ProviderSubscriptionID, "renew"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("renewing a canceled subscription: %v, want ErrInvalidRequest", err)
	}
}

func TestPeriodEnds(t *testing.T) {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }
	tests := []struct {
		anchor   time.Time
		interval string
		count, n int
		want     time.Time
	}{
		{at(2026, 1, 31), "month", 1, 1, at(2026, 2, 28)},
		{at(2028, 1, 31), "month", 1, 1, at(2028, 2, 29)},
		{at(2026, 1, 31), "month", 1, 2, at(2026, 3, 31)},
		{at(2026, 1, 31), "month", 3, 1, at(2026, 4, 30)},
		{at(2026, 11, 30), "month", 1, 3, at(2027, 2, 28)},
		{at(2028, 2, 29), "year", 1, 1, at(2029, 2, 28)},
		{at(2028, 2, 29), "year", 1, 4, at(2032, 2, 29)},
		{at(2026, 3, 15), "week", 2, 1, at(2026, 3, 29)},
		{at(2026, 12, 31), "day", 1, 1, at(2027, 1, 1)},
		{at(2026, 3, 15), "month", 1, 0, at(2026, 3, 15)},
	}
	for _, tt := range tests {
		if got := periodEnd(tt.anchor, tt.interval, tt.count, tt.n); !got.Equal(tt.want) {
			t.Errorf("periodEnd(%s, %s×%d, n=%d) = %s, want %s", tt.anchor.Format(time.DateOnly), tt.interval, tt.count, tt.n,
				got.Format(time.DateTime), tt.want.Format(time.DateTime))
		}
	}
}

// TestFindSubscriptionTellsWhatAStartDidWithoutDoingIt: the reconciler asks
// before starting a subscription canceled first; the answer is the start's
// under its key, and asking starts nothing.
func TestFindSubscriptionTellsWhatAStartDidWithoutDoingIt(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	ctx := context.Background()
	if _, found, err := e.sb.FindSubscription(ctx, payments.FindPayment{IdempotencyKey: "start"}); err != nil || found {
		t.Fatalf("before any start: found %v, %v", found, err)
	}
	started, err := e.subscribe(cus, pm, "month", "start")
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := e.sb.FindSubscription(ctx, payments.FindPayment{IdempotencyKey: "start"})
	if err != nil || !found || got.ProviderSubscriptionID != started.ProviderSubscriptionID || got.FirstPayment != started.FirstPayment {
		t.Fatalf("found %v %+v, %v; want %+v", found, got, err, started)
	}
	if subs, charges := e.count("subscriptions"), e.count("charges"); subs != 1 || charges != 1 {
		t.Errorf("subscriptions = %d, charges = %d, want 1 and 1", subs, charges)
	}
}
