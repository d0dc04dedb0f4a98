package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/payments"
)

// A session's page refuses to save a card when the session is over.
var (
	errSessionCompleted = errors.New("setup session already completed")
	errSessionExpired   = errors.New("setup session expired")
)

// setupSession is a session as its page needs it.
type setupSession struct {
	id        string
	customer  string
	returnURL string
	completed bool
	expiresAt time.Time
}

// usable is nil for an open session, else why its page cannot save a card.
// A completed session says so even after it would have expired.
func (ss setupSession) usable(now time.Time) error {
	switch {
	case ss.completed:
		return errSessionCompleted
	case !now.Before(ss.expiresAt):
		return errSessionExpired
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadSession: payments.ErrNotFound for an unknown id.
func loadSession(ctx context.Context, q querier, id string) (setupSession, error) {
	ss := setupSession{id: id}
	var status string
	var expiresAt int64
	err := q.QueryRowContext(ctx, `SELECT customer_id, return_url, status, expires_at FROM setup_sessions WHERE id = ?`, id).
		Scan(&ss.customer, &ss.returnURL, &status, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("setup session: %w", payments.ErrNotFound)
	} else if err != nil {
		return ss, err
	}
	ss.completed, ss.expiresAt = status == "completed", fromUnixNano(expiresAt)
	return ss, nil
}

// completeSetup saves the card as the session's payment method, marks the
// session completed and records the news for OnSetupCompleted, in one
// transaction; it returns the outbox event's id. Errors: payments.ErrNotFound,
// errSessionCompleted (also when a concurrent submit won), errSessionExpired.
func (s *Sandbox) completeSetup(ctx context.Context, sessionID string, c card) (string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	ss, err := loadSession(ctx, tx, sessionID)
	if err != nil {
		return "", err
	}
	now := s.now()
	if err := ss.usable(now); err != nil {
		return "", err
	}
	pmID, eventID := newID("pm_sbx_"), newID("evt_sbx_")
	if _, err := tx.ExecContext(ctx, `INSERT INTO payment_methods
		(id, customer_id, brand, last4, exp_month, exp_year, decline_code, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		pmID, ss.customer, c.brand, c.last4, c.expMonth, c.expYear, c.declineCode, unixNano(now)); err != nil {
		return "", err
	}
	// The status guard makes "completes at most once" hold even against
	// another process writing the same file.
	res, err := tx.ExecContext(ctx, `UPDATE setup_sessions SET status = 'completed', completed_at = ?, payment_method_id = ?
		WHERE id = ? AND status = 'open'`, unixNano(now), pmID, sessionID)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n != 1 {
		return "", errSessionCompleted
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event_id, session_id, created_at) VALUES (?, ?, ?)`,
		eventID, sessionID, unixNano(now)); err != nil {
		return "", err
	}
	return eventID, tx.Commit()
}
