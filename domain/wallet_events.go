package domain

import "time"

// CustomerCreated: the payment provider created the customer that holds the
// user's cards.
type CustomerCreated struct {
	UserID     string    `json:"user_id"`
	Provider   string    `json:"provider"`
	CustomerID string    `json:"customer_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// CardSetupStarted: a hosted page where the user enters a card was opened.
type CardSetupStarted struct {
	UserID            string         `json:"user_id"`
	SessionID         SetupSessionID `json:"session_id"`
	ProviderSessionID string         `json:"provider_session_id"`
	URL               string         `json:"url"`
	ReturnURL         string         `json:"return_url"`
	ExpiresAt         time.Time      `json:"expires_at"`
	StartedAt         time.Time      `json:"started_at"`
}

// CardAttached: a setup session completed and saved a card.
type CardAttached struct {
	UserID                  string          `json:"user_id"`
	PaymentMethodID         PaymentMethodID `json:"payment_method_id"`
	SessionID               SetupSessionID  `json:"session_id"`
	ProviderPaymentMethodID string          `json:"provider_payment_method_id"`
	Brand                   string          `json:"brand"`
	Last4                   string          `json:"last4"`
	ExpMonth                int             `json:"exp_month"`
	ExpYear                 int             `json:"exp_year"`
	AttachedAt              time.Time       `json:"attached_at"`
}

// CardDetached: a saved card was removed; it can no longer pay.
type CardDetached struct {
	UserID          string          `json:"user_id"`
	PaymentMethodID PaymentMethodID `json:"payment_method_id"`
	DetachedAt      time.Time       `json:"detached_at"`
}

func (CustomerCreated) EventType() string  { return EventCustomerCreated }
func (CardSetupStarted) EventType() string { return EventCardSetupStarted }
func (CardAttached) EventType() string     { return EventCardAttached }
func (CardDetached) EventType() string     { return EventCardDetached }

func (e CustomerCreated) StreamID() string  { return WalletStream(e.UserID) }
func (e CardSetupStarted) StreamID() string { return WalletStream(e.UserID) }
func (e CardAttached) StreamID() string     { return WalletStream(e.UserID) }
func (e CardDetached) StreamID() string     { return WalletStream(e.UserID) }
