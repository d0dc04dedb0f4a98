package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/robotlabor/billing/domain"
)

// The fixed clock of every test.
func clock() time.Time { return time.Date(2030, time.January, 15, 10, 0, 0, 0, time.UTC) }

// later is the fixed clock plus d.
func later(d time.Duration) time.Time { return clock().Add(d) }

func ptr(v int64) *int64 { return &v }

const (
	alice = "user_alice"
	bob   = "user_bob"
)

// invalid is the refusal ErrValidation naming param; then() compares Code and
// Param.
func invalid(param string) error {
	return &domain.Error{Code: "validation_failed", Param: param}
}

// then checks a decision's outcome: the events it returned and its error.
// wantErr matches by errors.Is (same Code); when it is an *domain.Error with
// a Param, the returned error must name the same Param.
func then(t *testing.T, got []domain.Event, gotErr error, want []domain.Event, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(gotErr, wantErr) {
			t.Fatalf("error = %v, want %v", gotErr, wantErr)
		}
		checkParam(t, gotErr, wantErr)
		if len(got) != 0 {
			t.Fatalf("events with error %v: %s", gotErr, describe(got))
		}
		return
	}
	if gotErr != nil {
		t.Fatalf("unexpected error: %v", gotErr)
	}
	if describe(got) != describe(want) {
		t.Fatalf("events\n got: %s\nwant: %s", describe(got), describe(want))
	}
}

func checkParam(t *testing.T, gotErr, wantErr error) {
	t.Helper()
	var want, got *domain.Error
	if !errors.As(wantErr, &want) || want.Param == "" {
		return
	}
	if !errors.As(gotErr, &got) || got.Param != want.Param {
		t.Fatalf("error %v: want param %q", gotErr, want.Param)
	}
}

// describe renders events as "type body" lines, a stable form to compare and
// to read in failures.
func describe(events []domain.Event) string {
	var b strings.Builder
	for _, e := range events {
		typ, data, err := domain.Encode(e)
		if err != nil {
			return fmt.Sprintf("unencodable %T: %v", e, err)
		}
		fmt.Fprintf(&b, "\n  %s %s (stream %s)", typ, data, e.StreamID())
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// Fixtures: one card saved by alice through one setup session.

func session() domain.SetupSessionID {
	return domain.NewSetupSessionID(uuid.MustParse("0b8a4f6e-3c2d-4e1f-9a7b-5c6d7e8f9a0b"))
}

func card() domain.PaymentMethodID { return domain.PaymentMethodIDFor(session()) }

func setupStarted(user string) domain.CardSetupStarted {
	return domain.CardSetupStarted{
		UserID: user, SessionID: session(), ProviderSessionID: "cs_test_1",
		URL: "https://pay.example/cs_1", ReturnURL: "https://app.example/cards",
		ExpiresAt: later(time.Hour), StartedAt: clock(),
	}
}

func cardAttached(user string) domain.CardAttached {
	return domain.CardAttached{
		UserID: user, PaymentMethodID: card(), SessionID: session(), ProviderPaymentMethodID: "pm_provider_1",
		Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034, AttachedAt: later(time.Minute),
	}
}

func walletOf(user string, events ...domain.Event) *domain.Wallet {
	w := domain.NewWallet(user)
	for _, e := range events {
		w.Apply(e)
	}
	return w
}

// aliceWallet holds one attached card.
func aliceWallet() *domain.Wallet {
	return walletOf(alice, setupStarted(alice), cardAttached(alice))
}

// defaultCatalog has DefaultPlans published.
func defaultCatalog(t *testing.T) *domain.Catalog {
	t.Helper()
	c := domain.NewCatalog()
	events, err := c.Sync(domain.DefaultPlans())
	if err != nil {
		t.Fatalf("sync default plans: %v", err)
	}
	for _, e := range events {
		c.Apply(e)
	}
	return c
}

// spec is one line of a decision table: given these events, the decision
// returns want, or fails with wantErr.
type spec struct {
	name    string
	given   []domain.Event
	want    []domain.Event
	wantErr error
}

// given folds each spec's events with fold, runs decide on the result and
// checks the outcome.
func given[A any](t *testing.T, fold func(...domain.Event) A, decide func(A) ([]domain.Event, error), specs []spec) {
	t.Helper()
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			got, err := decide(fold(s.given...))
			then(t, got, err, s.want, s.wantErr)
		})
	}
}

// events is shorthand for a list of events.
func events(es ...domain.Event) []domain.Event { return es }
