package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
)

func (e *env) charge(customerID, pmID, key string, amount int64) (payments.ChargeResult, error) {
	return e.sb.Charge(context.Background(), payments.Charge{CustomerID: customerID, PaymentMethodID: pmID,
		Amount: amount, Currency: "usd", OrderID: "ord_1", IdempotencyKey: key})
}

func (e *env) refund(paymentID, key string) (payments.RefundResult, error) {
	return e.sb.Refund(context.Background(), payments.Refund{ProviderPaymentID: paymentID,
		Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: key})
}

func TestChargeIsIdempotentByKey(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID

	first, err := e.charge(cus, pm, "k1", 4900)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.charge(cus, pm, "k1", 4900)
	if err != nil {
		t.Fatal(err)
	}
	_, reused := e.charge(cus, pm, "k1", 5000)

	if again != first {
		t.Errorf("replay = %+v, want %+v", again, first)
	}
	if n := e.count("charges"); n != 1 {
		t.Errorf("charges = %d, want 1", n)
	}
	if !errors.Is(reused, ErrIdempotencyKeyReused) {
		t.Errorf("same key, other amount: err = %v, want ErrIdempotencyKeyReused", reused)
	}
}

// Concurrent calls under one key, half of them with another amount, in
// the same group commits or not: one of the two requests wins, each of its
// callers gets the one result, every caller of the other gets
// ErrIdempotencyKeyReused, and there is one charge.
func TestConcurrentChargesUnderOneKeyChargeOnce(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	const rounds, calls = 10, 32
	for round := range rounds {
		key := fmt.Sprintf("k%d", round)
		results := make([]payments.ChargeResult, calls)
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { results[i], errs[i] = e.charge(cus, pm, key, 4900+int64(i%2)*100) })
		}
		wg.Wait()

		won := -1 // the amount's parity that won
		for i := range calls {
			if errs[i] == nil {
				won = i % 2
				break
			}
		}
		if won < 0 {
			t.Fatalf("round %d: every call failed: %v", round, errs[0])
		}
		var first *payments.ChargeResult
		for i := range calls {
			switch {
			case i%2 != won:
				if !errors.Is(errs[i], ErrIdempotencyKeyReused) {
					t.Errorf("round %d call %d (the other amount): %+v, %v; want ErrIdempotencyKeyReused", round, i, results[i], errs[i])
				}
			case errs[i] != nil || results[i].Status != payments.Succeeded:
				t.Errorf("round %d call %d: %+v, %v; want Succeeded", round, i, results[i], errs[i])
			case first == nil:
				first = &results[i]
			case results[i] != *first:
				t.Errorf("round %d call %d: %+v, want %+v like the others", round, i, results[i], *first)
			}
		}
		if n := e.count("charges"); n != round+1 {
			t.Fatalf("round %d: charges = %d, want %d", round, n, round+1)
		}
	}
}

func TestAKeyBelongsToOneCall(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	got, err := e.charge(cus, pm, "k1", 4900)
	if err != nil {
		t.Fatal(err)
	}

	_, err = e.refund(got.ProviderPaymentID, "k1")

	if !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Errorf("a charge's key used for a refund: err = %v, want ErrIdempotencyKeyReused", err)
	}
}

func TestChargeRefusesMalformedRequests(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	tests := []struct {
		name string
		req  payments.Charge
	}{
		{"zero amount", payments.Charge{CustomerID: cus, PaymentMethodID: pm, Amount: 0, Currency: "usd", IdempotencyKey: "a"}},
		{"negative amount", payments.Charge{CustomerID: cus, PaymentMethodID: pm, Amount: -1, Currency: "usd", IdempotencyKey: "b"}},
		{"no currency", payments.Charge{CustomerID: cus, PaymentMethodID: pm, Amount: 100, IdempotencyKey: "c"}},
		{"no key", payments.Charge{CustomerID: cus, PaymentMethodID: pm, Amount: 100, Currency: "usd"}},
		{"no customer", payments.Charge{PaymentMethodID: pm, Amount: 100, Currency: "usd", IdempotencyKey: "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.sb.Charge(context.Background(), tt.req); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
	if n := e.count("charges"); n != 0 {
		t.Errorf("charges = %d, want 0", n)
	}
}

func TestChargeOnAnotherCustomersOrUnknownCardFails(t *testing.T) {
	e := newEnv(t)
	owner, other := e.customer(), e.customer()
	pm := e.saveCard(owner, "4242424242424242").ProviderPaymentMethodID

	for _, tt := range []struct{ name, customer, pm string }{
		{"another customer's card", other, pm},
		{"unknown card", owner, "pm_sbx_UNKNOWN"},
		// The owner's charge below has the sandbox keep the card in memory.
		{"another customer's card, known to the sandbox", other, pm},
	} {
		got, err := e.charge(tt.customer, tt.pm, e.key(), 4900)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Status != payments.Failed || got.FailureCode != CodePaymentMethodNotFound || got.ProviderPaymentID != "" {
			t.Errorf("%s: %+v, want Failed %s without a payment", tt.name, got, CodePaymentMethodNotFound)
		}
		if got, err := e.charge(owner, pm, e.key(), 4900); err != nil || got.Status != payments.Succeeded {
			t.Fatalf("the owner's charge: %+v, %v", got, err)
		}
	}
}

func TestChargeOnACardThatHasSinceExpiredFails(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID // expires 12/2030
	e.clock.Set(start.AddDate(5, 0, 0))

	got, err := e.charge(cus, pm, "k", 4900)

	if err != nil || got.Status != payments.Failed || got.FailureCode != payments.CodeExpiredCard {
		t.Errorf("got %+v, %v; want Failed %s", got, err, payments.CodeExpiredCard)
	}
}

func TestRefundGivesTheMoneyBackOnce(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	paid, err := e.charge(cus, pm, "charge", 4900)
	if err != nil {
		t.Fatal(err)
	}

	first, err := e.refund(paid.ProviderPaymentID, "refund")
	if err != nil {
		t.Fatal(err)
	}
	replay, err := e.refund(paid.ProviderPaymentID, "refund")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.refund(paid.ProviderPaymentID, "refund-again")
	if err != nil {
		t.Fatal(err)
	}

	if first.Status != payments.Succeeded || len(first.ProviderRefundID) < len("re_sbx_")+1 || first.ProviderRefundID[:7] != "re_sbx_" {
		t.Errorf("first refund = %+v, want Succeeded with re_sbx_…", first)
	}
	if replay != first {
		t.Errorf("replay = %+v, want %+v", replay, first)
	}
	if second.Status != payments.Failed || second.FailureCode != CodeChargeAlreadyRefunded {
		t.Errorf("refund under another key = %+v, want Failed %s", second, CodeChargeAlreadyRefunded)
	}
	if n := e.count("refunds"); n != 1 {
		t.Errorf("refunds = %d, want 1", n)
	}
}

func TestRefundRefusals(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	declining := e.saveCard(cus, "4000000000000341").ProviderPaymentMethodID
	declined, err := e.charge(cus, declining, "declined", 4900)
	if err != nil {
		t.Fatal(err)
	}
	good := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	paid, err := e.charge(cus, good, "paid", 4900)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unknown payment", func(t *testing.T) {
		if _, err := e.refund("pi_sbx_UNKNOWN", e.key()); !errors.Is(err, payments.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("declined payment", func(t *testing.T) {
		got, err := e.refund(declined.ProviderPaymentID, e.key())
		if err != nil || got.Status != payments.Failed || got.FailureCode != CodeChargeNotRefundable {
			t.Errorf("got %+v, %v; want Failed %s", got, err, CodeChargeNotRefundable)
		}
	})
	t.Run("partial amount", func(t *testing.T) {
		_, err := e.sb.Refund(context.Background(), payments.Refund{ProviderPaymentID: paid.ProviderPaymentID,
			Amount: 100, Currency: "usd", IdempotencyKey: e.key()})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("err = %v, want ErrInvalidRequest", err)
		}
	})
	if n := e.count("refunds"); n != 0 {
		t.Errorf("refunds = %d, want 0", n)
	}
}

func TestCustomersAndSessionsAreIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := payments.CreateCustomer{UserID: "user_1", IdempotencyKey: "cus-key"}

	first, err1 := e.sb.CreateCustomer(ctx, req)
	again, err2 := e.sb.CreateCustomer(ctx, req)
	_, reused := e.sb.CreateCustomer(ctx, payments.CreateCustomer{UserID: "user_2", IdempotencyKey: "cus-key"})
	_, noKey := e.sb.CreateCustomer(ctx, payments.CreateCustomer{UserID: "user_1"})

	if err1 != nil || err2 != nil || first != again || first[:8] != "cus_sbx_" {
		t.Errorf("customers %q, %q (%v, %v): want one cus_sbx_ id twice", first, again, err1, err2)
	}
	if !errors.Is(reused, ErrIdempotencyKeyReused) || !errors.Is(noKey, ErrInvalidRequest) {
		t.Errorf("reused key: %v; no key: %v", reused, noKey)
	}

	sreq := payments.CreateSetupSession{CustomerID: first, UserID: "user_1", SessionID: "cs_1", IdempotencyKey: "cs-key"}
	s1, err1 := e.sb.CreateSetupSession(ctx, sreq)
	s2, err2 := e.sb.CreateSetupSession(ctx, sreq)
	if err1 != nil || err2 != nil || s1.ProviderSessionID != s2.ProviderSessionID || s1.URL != s2.URL || !s1.ExpiresAt.Equal(s2.ExpiresAt) {
		t.Errorf("sessions %+v, %+v (%v, %v): want the same twice", s1, s2, err1, err2)
	}
	if n := e.count("setup_sessions"); n != 1 {
		t.Errorf("sessions = %d, want 1", n)
	}
	sreq.IdempotencyKey = "other"
	sreq.ReturnURL = "javascript:alert(1)"
	if _, err := e.sb.CreateSetupSession(ctx, sreq); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("javascript: return URL: err = %v, want ErrInvalidRequest", err)
	}
	sreq.ReturnURL, sreq.CustomerID = "", "cus_sbx_UNKNOWN"
	if _, err := e.sb.CreateSetupSession(ctx, sreq); !errors.Is(err, payments.ErrNotFound) {
		t.Errorf("unknown customer: err = %v, want ErrNotFound", err)
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	pm := e.saveCard(cus, "4242424242424242").ProviderPaymentMethodID
	paid, err := e.charge(cus, pm, "charge", 4900)
	if err != nil {
		t.Fatal(err)
	}
	open := e.session(cus, "")

	e.reopen()

	if replay, err := e.charge(cus, pm, "charge", 4900); err != nil || replay != paid {
		t.Errorf("charge replay after reopen = %+v, %v; want %+v", replay, err, paid)
	}
	if n := e.count("charges"); n != 1 {
		t.Errorf("charges = %d, want 1", n)
	}
	if got, err := e.refund(paid.ProviderPaymentID, "refund"); err != nil || got.Status != payments.Succeeded {
		t.Errorf("refund after reopen = %+v, %v", got, err)
	}
	if got := e.post(e.pageURL(open), typedCard("5555555555554444")); got.status != 200 {
		t.Errorf("a session opened before the restart: POST = %d, want 200", got.status)
	}
	if again, err := e.charge(cus, e.inbox.events()[1].Card.ProviderPaymentMethodID, "second", 100); err != nil || again.Status != payments.Succeeded {
		t.Errorf("charge on the card saved after reopen = %+v, %v", again, err)
	}
}

func TestOpenRefusesABadConfig(t *testing.T) {
	ok := Config{Path: t.TempDir() + "/s.db", PublicURL: "http://127.0.0.1:8080",
		OnSetupCompleted: func(context.Context, payments.SetupCompleted) error { return nil }}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no path", func(c *Config) { c.Path = "" }},
		{"relative public URL", func(c *Config) { c.PublicURL = "/sandbox" }},
		{"no callback", func(c *Config) { c.OnSetupCompleted = nil }},
		{"negative TTL", func(c *Config) { c.SessionTTL = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			if err := cfg.Validate(); !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("Validate = %v, want ErrInvalidRequest", err)
			}
		})
	}
	cfg := ok
	if err := cfg.Validate(); err != nil || cfg.SessionTTL != defaultSessionTTL || cfg.RetryInterval != defaultRetryInterval || cfg.Now == nil {
		t.Errorf("Validate = %v, defaults %+v", err, cfg)
	}
}

// TestChargeIDsSortByTimeAndStayUnguessable: a charge's id sorts by when
// it was made (so the charges' index grows at its end) and still carries
// 80 random bits (so two made at the same instant differ).
func TestChargeIDsSortByTimeAndStayUnguessable(t *testing.T) {
	at := time.Date(2026, time.December, 5, 12, 0, 0, 0, time.UTC)
	prev := newOrderedID("pi_sbx_", at)
	for _, d := range []time.Duration{1, time.Microsecond, time.Second, 24 * time.Hour, 400 * 24 * time.Hour} {
		next := newOrderedID("pi_sbx_", at.Add(d))
		if next <= prev {
			t.Errorf("id %s made %v later sorts before %s", next, d, prev)
		}
		prev = next
	}
	a, b := newOrderedID("pi_sbx_", at), newOrderedID("pi_sbx_", at)
	if a == b || len(a) != len("pi_sbx_")+13+16 {
		t.Errorf("two ids at one instant: %s and %s", a, b)
	}
}

// Stored request hashes are compared with the hashes of later calls, so
// the hash of a call never changes between versions (this value is the
// first version's, which wrote it with fmt).
func TestRequestHashIsStable(t *testing.T) {
	const want = "cc995ed589e318def52c61a13f25641d769bbac69c8b0692d26445c540112dd9"
	if got := requestHash(opCharge, "cus_1", "pm_2", "4900", "usd", "ord_3"); got != want {
		t.Errorf("requestHash = %s, want %s", got, want)
	}
}
