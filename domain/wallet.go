package domain

import (
	"fmt"
	"time"
)

// Wallet is the aggregate of one user's payment set-up, in the stream
// "wallet-<user id>": the provider's customer, card setup sessions and saved
// cards.
type Wallet struct {
	UserID    string
	customers map[string]string // provider -> customer id
	sessions  map[SetupSessionID]SetupSession
	cards     []Card // every card ever attached, in attach order
}

// SessionStatus is the state of a card setup session. Expiry is not a state:
// an open session is expired when its ExpiresAt has passed.
type SessionStatus string

// Setup session states.
const (
	SessionOpen      SessionStatus = "open"
	SessionCompleted SessionStatus = "completed"
)

// SetupSession is a hosted page where the user enters a card.
type SetupSession struct {
	ID                SetupSessionID
	ProviderSessionID string
	URL               string
	ReturnURL         string
	Status            SessionStatus
	ExpiresAt         time.Time
	StartedAt         time.Time
	PaymentMethodID   PaymentMethodID // the card it saved, once completed
}

// Expired reports whether s can no longer complete at now.
func (s SetupSession) Expired(now time.Time) bool {
	return s.Status == SessionOpen && !now.Before(s.ExpiresAt)
}

// Card is a saved card. Detached cards stay in the wallet's history but are
// not listed and cannot pay.
type Card struct {
	ID                      PaymentMethodID
	SessionID               SetupSessionID
	ProviderPaymentMethodID string
	Brand                   string
	Last4                   string
	ExpMonth                int
	ExpYear                 int
	AttachedAt              time.Time
	Detached                bool
	DetachedAt              time.Time
}

// NewWallet returns the empty wallet of userID, ready for Apply.
func NewWallet(userID string) *Wallet {
	return &Wallet{UserID: userID}
}

// Apply folds one wallet event into w. Events of other aggregates are ignored.
func (w *Wallet) Apply(e Event) {
	switch e := e.(type) {
	case CustomerCreated:
		if w.customers == nil {
			w.customers = make(map[string]string)
		}
		w.customers[e.Provider] = e.CustomerID
	case CardSetupStarted:
		if w.sessions == nil {
			w.sessions = make(map[SetupSessionID]SetupSession)
		}
		w.sessions[e.SessionID] = SetupSession{
			ID: e.SessionID, ProviderSessionID: e.ProviderSessionID, URL: e.URL,
			ReturnURL: e.ReturnURL, Status: SessionOpen, ExpiresAt: e.ExpiresAt, StartedAt: e.StartedAt,
		}
	case CardAttached:
		w.applyCardAttached(e)
	case CardDetached:
		for i := range w.cards {
			if w.cards[i].ID == e.PaymentMethodID {
				w.cards[i].Detached, w.cards[i].DetachedAt = true, e.DetachedAt
			}
		}
	}
}

func (w *Wallet) applyCardAttached(e CardAttached) {
	if s, ok := w.sessions[e.SessionID]; ok {
		s.Status, s.PaymentMethodID = SessionCompleted, e.PaymentMethodID
		w.sessions[e.SessionID] = s
	}
	w.cards = append(w.cards, Card{
		ID: e.PaymentMethodID, SessionID: e.SessionID, ProviderPaymentMethodID: e.ProviderPaymentMethodID,
		Brand: e.Brand, Last4: e.Last4, ExpMonth: e.ExpMonth, ExpYear: e.ExpYear, AttachedAt: e.AttachedAt,
	})
}

// CustomerID returns the user's customer id at provider, if one was created.
func (w *Wallet) CustomerID(provider string) (string, bool) {
	id, ok := w.customers[provider]
	return id, ok
}

// Session returns the setup session with id id.
func (w *Wallet) Session(id SetupSessionID) (SetupSession, bool) {
	s, ok := w.sessions[id]
	return s, ok
}

// Card returns the attached (not detached) card pm.
func (w *Wallet) Card(pm PaymentMethodID) (Card, bool) {
	for _, c := range w.cards {
		if c.ID == pm && !c.Detached {
			return c, true
		}
	}
	return Card{}, false
}

// EverAttached returns the card pm, detached since or not: an order placed
// on it still has to learn what the provider did with it.
func (w *Wallet) EverAttached(pm PaymentMethodID) (Card, bool) {
	for _, c := range w.cards {
		if c.ID == pm {
			return c, true
		}
	}
	return Card{}, false
}

// HasCard reports whether pm is attached to the wallet and not detached.
func (w *Wallet) HasCard(pm PaymentMethodID) bool {
	_, ok := w.Card(pm)
	return ok
}

// Cards returns the attached cards in attach order.
func (w *Wallet) Cards() []Card {
	var cards []Card
	for _, c := range w.cards {
		if !c.Detached {
			cards = append(cards, c)
		}
	}
	return cards
}

// CreateCustomer records the provider's customer for this user. A wallet that
// already has a customer at provider yields no events: the first one recorded
// stays the user's customer. Empty arguments are ErrValidation.
func (w *Wallet) CreateCustomer(provider, customerID string, now time.Time) ([]Event, error) {
	if provider == "" {
		return nil, Invalid("provider", "provider is required")
	}
	if customerID == "" {
		return nil, Invalid("customer_id", "customer_id is required")
	}
	if _, ok := w.customers[provider]; ok {
		return nil, nil
	}
	return []Event{CustomerCreated{UserID: w.UserID, Provider: provider, CustomerID: customerID, CreatedAt: now.UTC()}}, nil
}

// StartCardSetup is the request to record a new card setup session that the
// provider has opened.
type StartCardSetup struct {
	SessionID         SetupSessionID
	ProviderSessionID string
	URL               string
	ReturnURL         string // optional
	ExpiresAt         time.Time
}

// StartCardSetup records a new setup session. It returns ErrValidation for a
// malformed session id, a missing provider session id or URL, or an expiry
// not after now; a session id already recorded yields no events.
func (w *Wallet) StartCardSetup(cmd StartCardSetup, now time.Time) ([]Event, error) {
	if _, err := ParseSetupSessionID(string(cmd.SessionID)); err != nil {
		return nil, err
	}
	if cmd.ProviderSessionID == "" {
		return nil, Invalid("provider_session_id", "provider_session_id is required")
	}
	if cmd.URL == "" {
		return nil, Invalid("url", "url is required")
	}
	if !cmd.ExpiresAt.After(now) {
		return nil, Invalid("expires_at", "expires_at must be after now")
	}
	if _, ok := w.sessions[cmd.SessionID]; ok {
		return nil, nil
	}
	return []Event{CardSetupStarted{
		UserID: w.UserID, SessionID: cmd.SessionID, ProviderSessionID: cmd.ProviderSessionID,
		URL: cmd.URL, ReturnURL: cmd.ReturnURL, ExpiresAt: cmd.ExpiresAt.UTC(), StartedAt: now.UTC(),
	}}, nil
}

// AttachCard is the outcome of a completed setup session: the card it saved.
type AttachCard struct {
	SessionID               SetupSessionID
	PaymentMethodID         PaymentMethodID // PaymentMethodIDFor(SessionID)
	ProviderPaymentMethodID string
	Brand                   string
	Last4                   string
	ExpMonth                int
	ExpYear                 int
}

// AttachCard records the card a setup session saved. It returns:
//   - no events when the session already saved this same card (a replay);
//   - ErrSetupSessionNotFound for an unknown session;
//   - ErrSetupSessionCompleted when the session already saved another card;
//   - ErrSetupSessionExpired when the session expired at now;
//   - ErrInvalidTransition when the card id was already attached by another
//     session;
//   - ErrValidation for a malformed card.
func (w *Wallet) AttachCard(cmd AttachCard, now time.Time) ([]Event, error) {
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	s, ok := w.sessions[cmd.SessionID]
	switch {
	case !ok:
		return nil, refuse(ErrSetupSessionNotFound, "session_id", "setup session %s not found", cmd.SessionID)
	case s.Status == SessionCompleted && s.PaymentMethodID == cmd.PaymentMethodID:
		return nil, nil
	case s.Status == SessionCompleted:
		return nil, refuse(ErrSetupSessionCompleted, "session_id", "setup session %s already saved a card", cmd.SessionID)
	case s.Expired(now):
		return nil, refuse(ErrSetupSessionExpired, "session_id", "setup session %s expired at %s",
			cmd.SessionID, s.ExpiresAt.Format(time.RFC3339))
	}
	for _, c := range w.cards {
		if c.ID == cmd.PaymentMethodID {
			return nil, refuse(ErrInvalidTransition, "payment_method_id",
				"card %s was already attached by session %s", c.ID, c.SessionID)
		}
	}
	return []Event{CardAttached{
		UserID: w.UserID, PaymentMethodID: cmd.PaymentMethodID, SessionID: cmd.SessionID,
		ProviderPaymentMethodID: cmd.ProviderPaymentMethodID, Brand: cmd.Brand, Last4: cmd.Last4,
		ExpMonth: cmd.ExpMonth, ExpYear: cmd.ExpYear, AttachedAt: now.UTC(),
	}}, nil
}

func (cmd AttachCard) validate() error {
	if _, err := ParsePaymentMethodID(string(cmd.PaymentMethodID)); err != nil {
		return err
	}
	if cmd.ProviderPaymentMethodID == "" {
		return Invalid("provider_payment_method_id", "provider_payment_method_id is required")
	}
	if len(cmd.Last4) != 4 || !isDigits(cmd.Last4) {
		return Invalid("last4", fmt.Sprintf("last4 %q must be four digits", cmd.Last4))
	}
	if cmd.ExpMonth < 1 || cmd.ExpMonth > 12 {
		return Invalid("exp_month", "exp_month must be 1..12")
	}
	if cmd.ExpYear < 1 {
		return Invalid("exp_year", "exp_year must be a year")
	}
	return nil
}

// DetachCard removes saved card pm. It returns ErrPaymentMethodNotFound when
// pm is not attached (never attached, or already detached).
func (w *Wallet) DetachCard(pm PaymentMethodID, now time.Time) ([]Event, error) {
	if !w.HasCard(pm) {
		return nil, refuse(ErrPaymentMethodNotFound, "payment_method_id", "payment method %s not found", pm)
	}
	return []Event{CardDetached{UserID: w.UserID, PaymentMethodID: pm, DetachedAt: now.UTC()}}, nil
}

// DetachedByProvider records that the provider removed the card it knows
// as providerPaymentMethodID (in its dashboard, a customer portal); nothing
// when the wallet lists no such card.
func (w *Wallet) DetachedByProvider(providerPaymentMethodID string, now time.Time) ([]Event, error) {
	for _, c := range w.Cards() {
		if c.ProviderPaymentMethodID == providerPaymentMethodID {
			return w.DetachCard(c.ID, now)
		}
	}
	return nil, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
