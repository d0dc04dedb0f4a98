package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robotlabor/billing/internal/sqlitex"
	"github.com/robotlabor/billing/payments"
)

// Subscription statuses, as Stripe names them.
const (
	subActive            = "active"
	subPastDue           = "past_due" // the last renewal failed
	subCanceled          = "canceled"
	subIncompleteExpired = "incomplete_expired" // the first payment failed: never active
)

type subscriptionRecord struct {
	ID          string       `json:"id,omitempty"`
	Payment     chargeRecord `json:"payment"`
	PeriodStart time.Time    `json:"period_start"`
	PeriodEnd   time.Time    `json:"period_end"`
}

// StartSubscription records a subscription (sub_sbx_…) and charges its
// first period at once, as Charge would. Paid: active, for the period from
// now to now + Interval × IntervalCount (months clamp to the month's end, as
// Stripe's do: Jan 31 + 1 month = Feb 28/29). Declined: FirstPayment is
// Failed, the subscription is recorded incomplete_expired, and the periods
// are zero.
// Errors: ErrInvalidRequest (a missing field, Amount ≤ 0, an interval other
// than day, week, month, year, IntervalCount < 1), ErrIdempotencyKeyReused.
func (s *Sandbox) StartSubscription(ctx context.Context, st payments.StartSubscription) (payments.SubscriptionResult, error) {
	p := chargeParams{st.CustomerID, st.PaymentMethodID, st.Amount, strings.ToLower(st.Currency), st.OrderID}
	if err := validateSubscription(p, st.Interval, st.IntervalCount); err != nil {
		return payments.SubscriptionResult{}, fmt.Errorf("sandbox start subscription %s: %w", st.SubscriptionID, err)
	}
	hash := requestHash(opStartSubscription, p.customerID, p.paymentMethodID, st.PlanID, st.PriceRef,
		itoa(p.amount), p.currency, st.Interval, itoa(int64(st.IntervalCount)), st.SubscriptionID, p.orderID)
	rec, err := idempotent(ctx, s, st.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (subscriptionRecord, error) {
		payment, err := s.charge(ctx, tx, p)
		if err != nil {
			return subscriptionRecord{}, err
		}
		now := s.now()
		rec := subscriptionRecord{ID: newID("sub_sbx_"), Payment: payment}
		status, paid, canceledAt := subActive, 1, sql.NullInt64{}
		if payment.Status != string(payments.Succeeded) {
			status, paid, canceledAt = subIncompleteExpired, 0, sql.NullInt64{Int64: unixNano(now), Valid: true}
		} else {
			rec.PeriodStart, rec.PeriodEnd = now, periodEnd(now, st.Interval, st.IntervalCount, 1)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO subscriptions
			(id, customer_id, payment_method_id, plan_id, price_ref, ledger_subscription_id, amount, currency,
			 interval, interval_count, status, anchor, periods_paid, canceled_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, p.customerID, p.paymentMethodID, st.PlanID, st.PriceRef, st.SubscriptionID, p.amount, p.currency,
			st.Interval, st.IntervalCount, status, unixNano(now), paid, canceledAt, unixNano(now))
		return rec, err
	})
	if err != nil {
		return payments.SubscriptionResult{}, fmt.Errorf("sandbox start subscription %s: %w", st.SubscriptionID, err)
	}
	return rec.result(), nil
}

func (r subscriptionRecord) result() payments.SubscriptionResult {
	return payments.SubscriptionResult{
		ProviderSubscriptionID: r.ID,
		FirstPayment:           r.Payment.result(),
		PeriodStart:            r.PeriodStart,
		PeriodEnd:              r.PeriodEnd,
	}
}

func validateSubscription(p chargeParams, interval string, count int) error {
	if err := p.validate(); err != nil {
		return err
	}
	switch interval {
	case "day", "week", "month", "year":
	default:
		return fmt.Errorf("interval %q is not day, week, month or year: %w", interval, ErrInvalidRequest)
	}
	if count < 1 {
		return fmt.Errorf("interval count %d must be at least 1: %w", count, ErrInvalidRequest)
	}
	return nil
}

// CancelSubscription ends a subscription now. Canceling one that is
// already over (canceled, or its first payment failed) changes nothing.
// Errors: payments.ErrNotFound, ErrInvalidRequest (a missing field),
// ErrIdempotencyKeyReused.
func (s *Sandbox) CancelSubscription(ctx context.Context, c payments.CancelSubscription) error {
	if c.ProviderSubscriptionID == "" {
		return fmt.Errorf("sandbox cancel subscription: ProviderSubscriptionID is required: %w", ErrInvalidRequest)
	}
	hash := requestHash(opCancelSubscription, c.ProviderSubscriptionID)
	_, err := idempotent(ctx, s, c.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (struct{}, error) {
		res, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = ?, canceled_at = ? WHERE id = ? AND status IN (?, ?)`,
			subCanceled, unixNano(s.now()), c.ProviderSubscriptionID, subActive, subPastDue)
		if err != nil {
			return struct{}{}, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return struct{}{}, err
		}
		var exists bool
		err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE id = ?)`, c.ProviderSubscriptionID).Scan(&exists)
		if err == nil && !exists {
			err = payments.ErrNotFound
		}
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("sandbox cancel subscription %s: %w", c.ProviderSubscriptionID, err)
	}
	return nil
}

// RenewSubscription charges the next period of an active or past_due
// subscription on its card, whenever it is called (the renewal scheduler
// decides when). Paid: the subscription is active and the returned period is
// the new one. Declined: a Failed result, the subscription past_due, and the
// returned period is the current, unchanged one; a later call with a new key
// tries the same period again.
// Errors: payments.ErrNotFound, ErrInvalidRequest (a missing field, a
// canceled subscription), ErrIdempotencyKeyReused.
func (s *Sandbox) RenewSubscription(ctx context.Context, providerSubscriptionID, idempotencyKey string) (result payments.ChargeResult, periodStart, periodEnd time.Time, err error) {
	if providerSubscriptionID == "" {
		return result, periodStart, periodEnd, fmt.Errorf("sandbox renew subscription: ProviderSubscriptionID is required: %w", ErrInvalidRequest)
	}
	hash := requestHash(opRenewSubscription, providerSubscriptionID)
	rec, err := idempotent(ctx, s, idempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (subscriptionRecord, error) {
		return s.renew(ctx, tx, providerSubscriptionID)
	})
	if err != nil {
		return result, periodStart, periodEnd, fmt.Errorf("sandbox renew subscription %s: %w", providerSubscriptionID, err)
	}
	return rec.Payment.result(), rec.PeriodStart, rec.PeriodEnd, nil
}

func (s *Sandbox) renew(ctx context.Context, tx *sqlitex.Tx, id string) (subscriptionRecord, error) {
	var p chargeParams
	var interval, status string
	var count, paid int
	var anchor int64
	err := tx.QueryRowContext(ctx, `SELECT customer_id, payment_method_id, amount, currency, interval, interval_count,
		status, anchor, periods_paid FROM subscriptions WHERE id = ?`, id).
		Scan(&p.customerID, &p.paymentMethodID, &p.amount, &p.currency, &interval, &count, &status, &anchor, &paid)
	if errors.Is(err, sql.ErrNoRows) {
		return subscriptionRecord{}, payments.ErrNotFound
	} else if err != nil {
		return subscriptionRecord{}, err
	}
	if status != subActive && status != subPastDue {
		return subscriptionRecord{}, fmt.Errorf("subscription is %s: %w", status, ErrInvalidRequest)
	}
	payment, err := s.charge(ctx, tx, p)
	if err != nil {
		return subscriptionRecord{}, err
	}
	if payment.Status == string(payments.Succeeded) {
		status, paid = subActive, paid+1
	} else {
		status = subPastDue
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET status = ?, periods_paid = ? WHERE id = ?`, status, paid, id); err != nil {
		return subscriptionRecord{}, err
	}
	start := fromUnixNano(anchor)
	return subscriptionRecord{
		ID:          id,
		Payment:     payment,
		PeriodStart: periodEnd(start, interval, count, paid-1),
		PeriodEnd:   periodEnd(start, interval, count, paid),
	}, nil
}

// periodEnd is the end of the n-th period counted from anchor (n = 0 is
// anchor itself). Counting from the anchor, not from the previous end, keeps
// a subscription started on Jan 31 renewing on the last day of short months
// and on the 31st of long ones, as Stripe's billing cycle anchor does.
func periodEnd(anchor time.Time, interval string, count, n int) time.Time {
	k := count * n
	switch interval {
	case "day":
		return anchor.AddDate(0, 0, k)
	case "week":
		return anchor.AddDate(0, 0, 7*k)
	case "year":
		return addMonthsClamped(anchor, 12*k)
	default: // month
		return addMonthsClamped(anchor, k)
	}
}

// addMonthsClamped adds months, clamping the day to the target month's last.
func addMonthsClamped(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	target := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	if last := time.Date(target.Year(), target.Month()+1, 0, 0, 0, 0, 0, t.Location()).Day(); d > last {
		d = last
	}
	return target.AddDate(0, 0, d-1)
}

// FindSubscription reports what StartSubscription did under f's
// idempotency key, without doing it (found false: no call with the key
// was made). The sandbox never forgets a key, and a call's result is
// stored in the transaction that made it: the answer is exact.
func (s *Sandbox) FindSubscription(ctx context.Context, f payments.FindPayment) (payments.SubscriptionResult, bool, error) {
	var stored string
	err := s.writes.Do(ctx, func(ctx context.Context, tx *sqlitex.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT result FROM idempotency_keys WHERE key = ?`, f.IdempotencyKey).Scan(&stored)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return payments.SubscriptionResult{}, false, nil
	}
	if err != nil {
		return payments.SubscriptionResult{}, false, fmt.Errorf("sandbox find subscription %s: %w", f.SubscriptionID, err)
	}
	var rec subscriptionRecord
	if err := json.Unmarshal([]byte(stored), &rec); err != nil {
		return payments.SubscriptionResult{}, false, fmt.Errorf("sandbox find subscription %s: %w", f.SubscriptionID, err)
	}
	return rec.result(), true, nil
}
