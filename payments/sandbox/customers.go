package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/robotlabor/billing/internal/sqlitex"
	"github.com/robotlabor/billing/payments"
)

type customerRecord struct {
	ID string `json:"id"`
}

// CreateCustomer creates the provider's customer of one user (cus_sbx_…).
// Errors: ErrInvalidRequest (missing UserID or key), ErrIdempotencyKeyReused.
func (s *Sandbox) CreateCustomer(ctx context.Context, c payments.CreateCustomer) (string, error) {
	if c.UserID == "" {
		return "", fmt.Errorf("sandbox create customer: UserID is required: %w", ErrInvalidRequest)
	}
	hash := requestHash(opCreateCustomer, c.UserID)
	rec, err := idempotent(ctx, s, c.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (customerRecord, error) {
		id := newID("cus_sbx_")
		_, err := tx.ExecContext(ctx, `INSERT INTO customers (id, user_id, created_at) VALUES (?, ?, ?)`,
			id, c.UserID, unixNano(s.now()))
		return customerRecord{ID: id}, err
	})
	if err != nil {
		return "", fmt.Errorf("sandbox create customer for user %s: %w", c.UserID, err)
	}
	return rec.ID, nil
}

type sessionRecord struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSetupSession opens a hosted card page (cs_sbx_…) at
// PublicURL/sandbox/setup/{id}, valid for SessionTTL.
// Errors: ErrInvalidRequest (a missing field, a ReturnURL that is not an
// absolute http(s) URL, a customer of another user), payments.ErrNotFound
// (unknown customer), ErrIdempotencyKeyReused.
func (s *Sandbox) CreateSetupSession(ctx context.Context, c payments.CreateSetupSession) (payments.SetupSession, error) {
	if err := validateSetupSession(c); err != nil {
		return payments.SetupSession{}, fmt.Errorf("sandbox create setup session %s: %w", c.SessionID, err)
	}
	hash := requestHash(opCreateSetupSession, c.CustomerID, c.UserID, c.SessionID, c.ReturnURL)
	rec, err := idempotent(ctx, s, c.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (sessionRecord, error) {
		var userID string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM customers WHERE id = ?`, c.CustomerID).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return sessionRecord{}, fmt.Errorf("customer %s: %w", c.CustomerID, payments.ErrNotFound)
		} else if err != nil {
			return sessionRecord{}, err
		}
		if userID != c.UserID {
			return sessionRecord{}, fmt.Errorf("customer %s belongs to another user: %w", c.CustomerID, ErrInvalidRequest)
		}
		now := s.now()
		rec := sessionRecord{ID: newID("cs_sbx_"), ExpiresAt: now.Add(s.cfg.SessionTTL)}
		rec.URL = s.cfg.PublicURL + setupPath + rec.ID
		_, err = tx.ExecContext(ctx, `INSERT INTO setup_sessions
			(id, ledger_session_id, user_id, customer_id, return_url, status, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, 'open', ?, ?)`,
			rec.ID, c.SessionID, c.UserID, c.CustomerID, c.ReturnURL, unixNano(rec.ExpiresAt), unixNano(now))
		return rec, err
	})
	if err != nil {
		return payments.SetupSession{}, fmt.Errorf("sandbox create setup session %s: %w", c.SessionID, err)
	}
	return payments.SetupSession{ProviderSessionID: rec.ID, URL: rec.URL, ExpiresAt: rec.ExpiresAt}, nil
}

func validateSetupSession(c payments.CreateSetupSession) error {
	switch {
	case c.CustomerID == "":
		return fmt.Errorf("CustomerID is required: %w", ErrInvalidRequest)
	case c.UserID == "":
		return fmt.Errorf("UserID is required: %w", ErrInvalidRequest)
	case c.SessionID == "":
		return fmt.Errorf("SessionID is required: %w", ErrInvalidRequest)
	}
	if c.ReturnURL != "" {
		if _, err := returnOrigin(c.ReturnURL); err != nil {
			return err
		}
	}
	return nil
}

// returnOrigin is the scheme://host of an absolute http(s) return URL: the
// page's Content-Security-Policy must allow its form to land there.
func returnOrigin(returnURL string) (string, error) {
	u, err := url.Parse(returnURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || !plainHost(u.Host) {
		return "", fmt.Errorf("ReturnURL %q must be an absolute http(s) URL: %w", returnURL, ErrInvalidRequest)
	}
	return u.Scheme + "://" + u.Host, nil
}

// plainHost: a host made only of what DNS names, IP literals and ports
// use, so that it cannot smuggle anything into a header it is written to.
func plainHost(host string) bool {
	for _, r := range host {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case r == '.', r == '-', r == ':', r == '[', r == ']':
		default:
			return false
		}
	}
	return true
}
