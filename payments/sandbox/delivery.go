package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/payments"
)

// Run redelivers completions whose delivery failed (or never happened, if
// the process stopped right after the page saved the card), oldest first,
// until ctx ends; then it returns nil. It waits RetryInterval between rounds,
// doubling the wait after each failing round up to a minute.
func (s *Sandbox) Run(ctx context.Context) error {
	wait := s.cfg.RetryInterval
	for {
		if err := s.redeliver(ctx); err != nil && ctx.Err() == nil {
			wait = min(2*wait, max(maxRetryInterval, s.cfg.RetryInterval))
			s.cfg.Logger.WarnContext(ctx, "sandbox: setup completion not delivered; retrying", "err", err, "retry_in", wait)
		} else {
			wait = s.cfg.RetryInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// redeliver delivers the undelivered completions in order, stopping at the
// first failure: the receiver is one, and what failed now fails for all.
func (s *Sandbox) redeliver(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT event_id FROM outbox WHERE delivered_at IS NULL ORDER BY created_at, event_id LIMIT 100`)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close() //nolint:errcheck // reporting the scan's error
			return err
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	// One completion the ledger refuses must not hold up the others.
	var errs []error
	for _, id := range ids {
		if err := s.deliver(ctx, id, false); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deliver hands one completion to OnSetupCompleted unless it was delivered
// already, and records the outcome. Within this process one completion is
// never handed over twice at once: when another delivery of it is under way,
// deliver waits for it (and tries itself if that one failed) when wait is
// set, and leaves it alone otherwise.
func (s *Sandbox) deliver(ctx context.Context, eventID string, wait bool) error {
	release, busy := s.claim(eventID)
	for busy != nil {
		if !wait {
			return nil
		}
		select {
		case <-busy:
		case <-ctx.Done():
			return ctx.Err()
		}
		release, busy = s.claim(eventID)
	}
	defer release()

	e, delivered, err := s.loadCompletion(ctx, eventID)
	if err != nil || delivered {
		return err
	}
	if err := s.cfg.OnSetupCompleted(ctx, e); err != nil {
		_, dbErr := s.db.ExecContext(context.WithoutCancel(ctx),
			`UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE event_id = ?`, err.Error(), eventID)
		if dbErr != nil {
			s.cfg.Logger.ErrorContext(ctx, "sandbox: recording a failed delivery", "event_id", eventID, "err", dbErr)
		}
		return fmt.Errorf("deliver %s of session %s: %w", eventID, e.ProviderSessionID, err)
	}
	// Should this write fail, the completion is delivered again later:
	// receivers deduplicate by ProviderEventID.
	_, err = s.db.ExecContext(context.WithoutCancel(ctx),
		`UPDATE outbox SET attempts = attempts + 1, last_error = '', delivered_at = ? WHERE event_id = ?`, unixNano(s.now()), eventID)
	return err
}

// claim marks eventID's delivery as under way and returns its release; if
// one is under way already, it returns a channel closed when that one ends.
func (s *Sandbox) claim(eventID string) (release func(), busy <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.inflight[eventID]; ok {
		return nil, ch
	}
	ch := make(chan struct{})
	s.inflight[eventID] = ch
	return func() {
		s.mu.Lock()
		delete(s.inflight, eventID)
		s.mu.Unlock()
		close(ch)
	}, nil
}

func (s *Sandbox) loadCompletion(ctx context.Context, eventID string) (payments.SetupCompleted, bool, error) {
	e := payments.SetupCompleted{ProviderEventID: eventID}
	var delivered sql.NullInt64
	var completedAt int64
	err := s.db.QueryRowContext(ctx, `SELECT o.delivered_at, ss.id, ss.ledger_session_id, ss.user_id, ss.customer_id,
			pm.id, pm.brand, pm.last4, pm.exp_month, pm.exp_year, o.created_at
		FROM outbox o
		JOIN setup_sessions ss ON ss.id = o.session_id
		JOIN payment_methods pm ON pm.id = ss.payment_method_id
		WHERE o.event_id = ?`, eventID).Scan(&delivered, &e.ProviderSessionID, &e.SessionID, &e.UserID, &e.CustomerID,
		&e.Card.ProviderPaymentMethodID, &e.Card.Brand, &e.Card.Last4, &e.Card.ExpMonth, &e.Card.ExpYear, &completedAt)
	e.CompletedAt = fromUnixNano(completedAt)
	if err != nil {
		return e, false, fmt.Errorf("load completion %s: %w", eventID, err)
	}
	return e, delivered.Valid, nil
}
