package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/robotlabor/billing/payments"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Config configures the Stripe provider.
type Config struct {
	SecretKey string // sk_live_… or sk_test_…
	// APIBase replaces Stripe's API URL (stripe-mock in tests).
	APIBase string
	// PublicURL is the service's base URL: Checkout returns the browser to
	// it when a setup request names no return_url.
	PublicURL  string
	HTTPClient *http.Client // default: 30s timeout
}

// Stripe is the provider.
type Stripe struct {
	api       *client.API
	publicURL string

	mu     sync.Mutex
	prices map[string]string // lookup key → price id
}

// New returns the Stripe provider for cfg.
func New(cfg Config) (*Stripe, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripe: secret key is required")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("stripe: public URL is required")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripego.BackendConfig{
		HTTPClient: hc,
		// stripe-go retries network errors and 409/429/5xx itself, with the
		// same idempotency key; the reconciler retries beyond that.
		MaxNetworkRetries: stripego.Int64(2),
		LeveledLogger:     &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if cfg.APIBase != "" {
		bc.URL = stripego.String(strings.TrimRight(cfg.APIBase, "/"))
	}
	backends := &stripego.Backends{
		API:     stripego.GetBackendWithConfig(stripego.APIBackend, bc),
		Connect: stripego.GetBackendWithConfig(stripego.ConnectBackend, bc),
		Uploads: stripego.GetBackendWithConfig(stripego.UploadsBackend, bc),
	}
	return &Stripe{api: client.New(cfg.SecretKey, backends), publicURL: strings.TrimRight(cfg.PublicURL, "/"), prices: map[string]string{}}, nil
}

// Name is the provider's name in the ledger (customers are per provider).
func (s *Stripe) Name() string { return "stripe" }

// CreateCustomer creates the user's Stripe customer, tagged with the user id.
func (s *Stripe) CreateCustomer(ctx context.Context, req payments.CreateCustomer) (string, error) {
	p := &stripego.CustomerParams{Params: params(ctx, req.IdempotencyKey)}
	p.AddMetadata("user_id", req.UserID)
	c, err := s.api.Customers.New(p)
	if err != nil {
		return "", fail("create customer", err)
	}
	return c.ID, nil
}

// CreateSetupSession opens Stripe Checkout in setup mode for the customer.
// The ledger's session and user ids ride along as metadata, so the
// checkout.session.completed webhook tells whose card it is.
func (s *Stripe) CreateSetupSession(ctx context.Context, req payments.CreateSetupSession) (payments.SetupSession, error) {
	success, cancel := req.ReturnURL, req.ReturnURL
	if success == "" {
		success = s.publicURL + "/v1/me/payment-methods?setup=" + req.SessionID
		cancel = s.publicURL + "/v1/me/payment-methods?setup_canceled=" + req.SessionID
	}
	p := &stripego.CheckoutSessionParams{
		Params:             params(ctx, req.IdempotencyKey),
		Mode:               stripego.String(string(stripego.CheckoutSessionModeSetup)),
		Customer:           stripego.String(req.CustomerID),
		Currency:           stripego.String("usd"),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		SuccessURL:         stripego.String(success),
		CancelURL:          stripego.String(cancel),
		ClientReferenceID:  stripego.String(req.SessionID),
	}
	p.AddMetadata("session_id", req.SessionID)
	p.AddMetadata("user_id", req.UserID)
	cs, err := s.api.CheckoutSessions.New(p)
	if err != nil {
		return payments.SetupSession{}, fail("create checkout session", err)
	}
	return payments.SetupSession{ProviderSessionID: cs.ID, URL: cs.URL, ExpiresAt: time.Unix(cs.ExpiresAt, 0).UTC()}, nil
}

func params(ctx context.Context, key string) stripego.Params {
	p := stripego.Params{Context: ctx}
	if key != "" {
		p.SetIdempotencyKey(key)
	}
	return p
}

// fail classifies an error: Stripe refusing the request itself (4xx other
// than card errors, rate limits and conflicts) is payments.ErrInvalidRequest
// or payments.ErrNotFound; everything else is an unknown outcome.
func fail(what string, err error) error {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe: %s: %w", what, err)
	}
	switch {
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// A revoked or restricted key: an operator fixes it, then the same
		// requests go through; keep retrying (and alerting).
	case se.Type == stripego.ErrorTypeIdempotency:
		// The key was used with other parameters: retrying cannot help.
		return fmt.Errorf("stripe: %s: %s: %w", what, se.Msg, payments.ErrInvalidRequest)
	case se.HTTPStatusCode == http.StatusNotFound:
		return fmt.Errorf("stripe: %s: %s: %w", what, se.Msg, payments.ErrNotFound)
	case se.Type == stripego.ErrorTypeInvalidRequest && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != http.StatusConflict && se.HTTPStatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("stripe: %s: %s: %w", what, se.Msg, payments.ErrInvalidRequest)
	}
	return fmt.Errorf("stripe: %s: %w", what, err)
}
