package domain_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/robotlabor/billing/domain"
)

func attachCmd() domain.AttachCard {
	return domain.AttachCard{
		SessionID: session(), PaymentMethodID: card(), ProviderPaymentMethodID: "pm_provider_1",
		Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034,
	}
}

func otherSession() domain.SetupSessionID {
	return domain.NewSetupSessionID(uuid.MustParse("1c9b5a7f-4d3e-4f20-8b8c-6d7e8f9a0b1c"))
}

func alicesWallet(es ...domain.Event) *domain.Wallet { return walletOf(alice, es...) }

func customerCreated(provider, id string) domain.CustomerCreated {
	return domain.CustomerCreated{UserID: alice, Provider: provider, CustomerID: id, CreatedAt: clock()}
}

func cardDetached() domain.CardDetached {
	return domain.CardDetached{UserID: alice, PaymentMethodID: card(), DetachedAt: later(time.Hour)}
}

func TestCreateCustomer(t *testing.T) {
	create := func(provider, id string) func(*domain.Wallet) ([]domain.Event, error) {
		return func(w *domain.Wallet) ([]domain.Event, error) { return w.CreateCustomer(provider, id, clock()) }
	}
	given(t, alicesWallet, create("sandbox", "cus_1"), []spec{
		{"the first customer", nil, events(customerCreated("sandbox", "cus_1")), nil},
		{"a customer exists: nothing", events(customerCreated("sandbox", "cus_0")), nil, nil},
	})
	given(t, alicesWallet, create("stripe", "cus_S"), []spec{
		{"a customer at another provider", events(customerCreated("sandbox", "cus_1")), events(customerCreated("stripe", "cus_S")), nil},
	})
	given(t, alicesWallet, create("sandbox", ""), []spec{{"without an id", nil, nil, invalid("customer_id")}})
	given(t, alicesWallet, create("", "cus_1"), []spec{{"without a provider", nil, nil, invalid("provider")}})
}

func TestStartCardSetup(t *testing.T) {
	start := func(edit func(*domain.StartCardSetup)) func(*domain.Wallet) ([]domain.Event, error) {
		cmd := domain.StartCardSetup{
			SessionID: session(), ProviderSessionID: "cs_test_1", URL: "https://pay.example/cs_1",
			ReturnURL: "https://app.example/cards", ExpiresAt: later(time.Hour),
		}
		edit(&cmd)
		return func(w *domain.Wallet) ([]domain.Event, error) { return w.StartCardSetup(cmd, clock()) }
	}
	given(t, alicesWallet, start(func(*domain.StartCardSetup) {}), []spec{
		{"a new session", nil, events(setupStarted(alice)), nil},
		{"the same session again: nothing", events(setupStarted(alice)), nil, nil},
	})
	given(t, alicesWallet, start(func(c *domain.StartCardSetup) { c.SessionID = "cs_nope" }), []spec{
		{"a malformed session id", nil, nil, invalid("session_id")},
	})
	given(t, alicesWallet, start(func(c *domain.StartCardSetup) { c.ProviderSessionID = "" }), []spec{
		{"without the provider's session", nil, nil, invalid("provider_session_id")},
	})
	given(t, alicesWallet, start(func(c *domain.StartCardSetup) { c.URL = "" }), []spec{
		{"without a url", nil, nil, invalid("url")},
	})
	given(t, alicesWallet, start(func(c *domain.StartCardSetup) { c.ExpiresAt = clock() }), []spec{
		{"already expired", nil, nil, invalid("expires_at")},
	})
}

func TestAttachCard(t *testing.T) {
	attach := func(now time.Time, edit func(*domain.AttachCard)) func(*domain.Wallet) ([]domain.Event, error) {
		cmd := attachCmd()
		edit(&cmd)
		return func(w *domain.Wallet) ([]domain.Event, error) { return w.AttachCard(cmd, now) }
	}
	same := func(*domain.AttachCard) {}
	opened := events(setupStarted(alice))
	saved := events(setupStarted(alice), cardAttached(alice))
	given(t, alicesWallet, attach(later(time.Minute), same), []spec{
		{"an open session saves the card", opened, events(cardAttached(alice)), nil},
		{"the same card again: nothing", saved, nil, nil},
		{"an unknown session", nil, nil, domain.ErrSetupSessionNotFound},
	})
	given(t, alicesWallet, attach(later(2*time.Hour), same), []spec{
		{"the same card again after expiry: nothing", saved, nil, nil},
	})
	given(t, alicesWallet, attach(later(time.Hour), same), []spec{
		{"an expired session", opened, nil, domain.ErrSetupSessionExpired},
	})
	given(t, alicesWallet, attach(later(time.Minute), func(c *domain.AttachCard) { c.PaymentMethodID = domain.PaymentMethodIDFor(otherSession()) }), []spec{
		{"another card on a completed session", saved, nil, domain.ErrSetupSessionCompleted},
	})
	otherStarted := setupStarted(alice)
	otherStarted.SessionID = otherSession()
	given(t, alicesWallet, attach(later(time.Minute), func(c *domain.AttachCard) { c.SessionID = otherSession() }), []spec{
		{"a card id another session attached", append(saved, otherStarted), nil, domain.ErrInvalidTransition},
	})
	malformed := []struct {
		param string
		edit  func(*domain.AttachCard)
	}{
		{"payment_method_id", func(c *domain.AttachCard) { c.PaymentMethodID = "pm_1" }},
		{"provider_payment_method_id", func(c *domain.AttachCard) { c.ProviderPaymentMethodID = "" }},
		{"last4", func(c *domain.AttachCard) { c.Last4 = "42a2" }},
		{"exp_month", func(c *domain.AttachCard) { c.ExpMonth = 13 }},
		{"exp_year", func(c *domain.AttachCard) { c.ExpYear = 0 }},
	}
	for _, m := range malformed {
		given(t, alicesWallet, attach(later(time.Minute), m.edit), []spec{{"malformed " + m.param, opened, nil, invalid(m.param)}})
	}
}

func TestDetachCard(t *testing.T) {
	detach := func(w *domain.Wallet) ([]domain.Event, error) { return w.DetachCard(card(), later(time.Hour)) }
	given(t, alicesWallet, detach, []spec{
		{"a saved card", events(setupStarted(alice), cardAttached(alice)), events(cardDetached()), nil},
		{"a card already detached", events(setupStarted(alice), cardAttached(alice), cardDetached()), nil, domain.ErrPaymentMethodNotFound},
		{"an unknown card", nil, nil, domain.ErrPaymentMethodNotFound},
	})
}

func TestCardsAreListedInAttachOrder(t *testing.T) {
	second := cardAttached(alice)
	second.SessionID, second.PaymentMethodID, second.AttachedAt = otherSession(), domain.PaymentMethodIDFor(otherSession()), later(time.Hour)
	otherStarted := setupStarted(alice)
	otherStarted.SessionID = otherSession()

	w := alicesWallet(setupStarted(alice), otherStarted, cardAttached(alice), second)

	cards := w.Cards()
	if len(cards) != 2 || cards[0].ID != card() || cards[1].ID != second.PaymentMethodID {
		t.Errorf("cards = %+v, want %s then %s", cards, card(), second.PaymentMethodID)
	}
}

func TestWalletQueries(t *testing.T) {
	w := alicesWallet(customerCreated("sandbox", "cus_1"), setupStarted(alice))

	if s, ok := w.Session(session()); !ok || s.Status != domain.SessionOpen || s.Expired(clock()) || !s.Expired(later(time.Hour)) {
		t.Errorf("open session = %+v, %v", s, ok)
	}
	if w.HasCard(card()) {
		t.Errorf("card listed before the session completed")
	}
	w.Apply(cardAttached(alice))

	if id, ok := w.CustomerID("sandbox"); !ok || id != "cus_1" {
		t.Errorf("customer = %q, %v", id, ok)
	}
	s, _ := w.Session(session())
	if s.Status != domain.SessionCompleted || s.PaymentMethodID != card() || s.Expired(later(2*time.Hour)) {
		t.Errorf("completed session = %+v", s)
	}
	got, ok := w.Card(card())
	want := domain.Card{
		ID: card(), SessionID: session(), ProviderPaymentMethodID: "pm_provider_1",
		Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034, AttachedAt: later(time.Minute),
	}
	if !ok || got != want || len(w.Cards()) != 1 {
		t.Errorf("card = %+v, %v; want %+v", got, ok, want)
	}
	w.Apply(cardDetached())
	if w.HasCard(card()) || len(w.Cards()) != 0 {
		t.Errorf("detached card still listed")
	}
}
