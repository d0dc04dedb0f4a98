package projections

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/robotlabor/billing/domain"
)

// Subscription is a subscription as GET /v1/me/wallet/subscriptions shows
// it.
type Subscription struct {
	ID                 string     `json:"id"`
	PlanID             string     `json:"plan_id"`
	OrderID            string     `json:"order_id"`
	Status             string     `json:"status"`
	CurrentPeriodStart *time.Time `json:"current_period_start"`
	CurrentPeriodEnd   *time.Time `json:"current_period_end"`
	CanceledAt         *time.Time `json:"canceled_at"`
	CreatedAt          time.Time  `json:"created_at"`
	PaymentMethodID    string     `json:"payment_method_id"`
	CancelAtPeriodEnd  bool       `json:"cancel_at_period_end"`
	CancelReason       *string    `json:"cancel_reason"`
}

const subscriptionColumns = `id, plan_id, order_id, status, current_period_start, current_period_end, canceled_at, created_at,
	payment_method_id, cancel_at_period_end, cancel_reason`

// Subscriptions returns a page of userID's subscriptions, newest first (ties
// by id), and the cursor of the next page (empty when this is the last). A
// cursor that does not decode or names none of the user's subscriptions is
// ErrInvalidCursor.
func (rm *ReadModels) Subscriptions(ctx context.Context, userID string, p Page) (items []Subscription, next string, err error) {
	q := listQuery{table: "subscriptions", columns: subscriptionColumns, sortBy: "created_at", desc: true, userID: userID, limit: p.Limit}
	if p.Cursor != "" {
		if q.afterID, err = decodeCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	var hasMore bool
	if p.AsOf.IsZero() {
		items, hasMore, err = listPage(ctx, rm.queries, q, scanSubscription)
	} else {
		items, hasMore, err = rm.subscriptionsAsOf(ctx, q, p.AsOf)
	}
	if err != nil {
		return nil, "", err
	}
	return items, nextCursor(items, hasMore, func(s Subscription) string { return s.ID }), nil
}

// Subscription returns userID's subscription id, or ErrNotFound.
func (rm *ReadModels) Subscription(ctx context.Context, userID, id string) (Subscription, error) {
	return getRow(ctx, rm.queries, "subscriptions", subscriptionColumns, userID, id, scanSubscription)
}

func scanSubscription(s scanner) (Subscription, error) {
	var (
		sub                  Subscription
		start, end, canceled sql.NullInt64
		created              int64
		reason               sql.NullString
	)
	if err := s.Scan(&sub.ID, &sub.PlanID, &sub.OrderID, &sub.Status, &start, &end, &canceled, &created,
		&sub.PaymentMethodID, &sub.CancelAtPeriodEnd, &reason); err != nil {
		return sub, err
	}
	if reason.Valid {
		sub.CancelReason = &reason.String
	}
	sub.CurrentPeriodStart, sub.CurrentPeriodEnd, sub.CanceledAt = timePtr(start), timePtr(end), timePtr(canceled)
	sub.CreatedAt = fromNanos(created)
	return sub, nil
}

// The subscription state machine of the domain (see docs/events.md), one
// statement per event. A repeated subscription.created keeps the first.

func (w *writeTx) createSubscription(e domain.SubscriptionCreated) error {
	_, err := w.exec(`INSERT INTO subscriptions (id, user_id, plan_id, order_id, status, created_at, payment_method_id, created_rec, changed_rec)
		VALUES (?, ?, ?, ?, 'incomplete', ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.SubscriptionID, e.UserID, e.PlanID, e.OrderID, nanos(e.CreatedAt), e.PaymentMethodID, w.at, w.at)
	return err
}

func (w *writeTx) startSubscription(e domain.SubscriptionStarted) error {
	return w.setPeriod(e.SubscriptionID, e.CurrentPeriodStart, e.CurrentPeriodEnd)
}

func (w *writeTx) renewSubscription(e domain.SubscriptionRenewed) error {
	return w.setPeriod(e.SubscriptionID, e.CurrentPeriodStart, e.CurrentPeriodEnd)
}

// setPeriod makes the subscription active for the period [start, end).
func (w *writeTx) setPeriod(id domain.SubscriptionID, start, end time.Time) error {
	_, err := w.exec(`UPDATE subscriptions SET status = 'active', current_period_start = ?, current_period_end = ?, next_due_at = ?,
		changed_rec = ? WHERE id = ?`, nullTime(start), nullTime(end), nullTime(end), w.at, id)
	return err
}

func (w *writeTx) markPastDue(e domain.SubscriptionPastDue) error {
	_, err := w.exec(`UPDATE subscriptions SET status = 'past_due', next_due_at = ?, changed_rec = ? WHERE id = ?`, nullTime(e.RetryAt), w.at, e.SubscriptionID)
	return err
}

// requestCancel: cancellation is immediate, from the customer's request.
func (w *writeTx) requestCancel(e domain.SubscriptionCancelRequested) error {
	_, err := w.exec(`UPDATE subscriptions SET status = 'canceled', canceled_at = ?, next_due_at = NULL, cancel_reason = ?, changed_rec = ?
		WHERE id = ?`, nullTime(e.RequestedAt), domain.CancelReasonView(e.Reason), w.at, e.SubscriptionID)
	return err
}

// cancelSubscription: the end for good. After a cancel request, the
// subscription keeps the request's time.
func (w *writeTx) cancelSubscription(e domain.SubscriptionCanceled) error {
	_, err := w.exec(`UPDATE subscriptions SET status = 'canceled', canceled_at = COALESCE(canceled_at, ?), cancel_confirmed = 1, next_due_at = NULL,
		cancel_reason = COALESCE(cancel_reason, ?), changed_rec = ? WHERE id = ?`, nullTime(e.CanceledAt), domain.CancelReasonView(e.Reason), w.at, e.SubscriptionID)
	return err
}

// changeCard: renewals charge the new card; a past_due subscription's
// unpaid renewal is retried with it at once.
func (w *writeTx) changeCard(e domain.SubscriptionCardChanged) error {
	_, err := w.exec(`UPDATE subscriptions SET payment_method_id = ?,
		next_due_at = CASE WHEN status = 'past_due' THEN ? ELSE next_due_at END, changed_rec = ? WHERE id = ?`,
		e.PaymentMethodID, nanos(e.ChangedAt), w.at, e.SubscriptionID)
	return err
}

func (w *writeTx) scheduleCancel(e domain.CancelScheduled) error {
	_, err := w.exec(`UPDATE subscriptions SET cancel_at_period_end = 1, changed_rec = ? WHERE id = ?`, w.at, e.SubscriptionID)
	return err
}

func (w *writeTx) unscheduleCancel(e domain.CancelUnscheduled) error {
	_, err := w.exec(`UPDATE subscriptions SET cancel_at_period_end = 0, changed_rec = ? WHERE id = ?`, w.at, e.SubscriptionID)
	return err
}

// UnconfirmedCancel is a subscription canceled in the ledger whose end the
// provider has not confirmed.
type UnconfirmedCancel struct {
	ID         string
	CanceledAt time.Time
}

// UnconfirmedCancels returns up to limit subscriptions, oldest cancellation
// first, canceled after after and before before and not confirmed ended at
// the provider: the reconciler's sweep pages through them and asks the
// ledger again.
func (rm *ReadModels) UnconfirmedCancels(ctx context.Context, after, before time.Time, limit int) ([]UnconfirmedCancel, error) {
	rows, err := rm.readers.QueryContext(ctx, `SELECT id, canceled_at FROM subscriptions INDEXED BY subscriptions_cancel_unconfirmed
		WHERE status = 'canceled' AND cancel_confirmed = 0 AND canceled_at > ? AND canceled_at < ? ORDER BY canceled_at LIMIT ?`,
		after.UnixNano(), before.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("unconfirmed cancellations: %w", err)
	}
	defer rows.Close()
	var out []UnconfirmedCancel
	for rows.Next() {
		var c UnconfirmedCancel
		var at int64
		if err := rows.Scan(&c.ID, &at); err != nil {
			return nil, err
		}
		c.CanceledAt = fromNanos(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DueSubscription is a subscription whose next charge by the ledger is due.
type DueSubscription struct {
	ID    string
	DueAt time.Time
}

// DueRenewals returns up to limit subscriptions, earliest first (ties by
// id), whose next charge (a period's end, or while past_due the next retry)
// is due at or before now and after the cursor (after, afterID): the
// reconciler's scheduler pages through them and asks the ledger, which
// decides.
func (rm *ReadModels) DueRenewals(ctx context.Context, now, after time.Time, afterID string, limit int) ([]DueSubscription, error) {
	rows, err := rm.readers.QueryContext(ctx, `SELECT id, next_due_at FROM subscriptions INDEXED BY subscriptions_due
		WHERE next_due_at IS NOT NULL AND next_due_at <= ? AND (next_due_at, id) > (?, ?) ORDER BY next_due_at, id LIMIT ?`,
		now.UnixNano(), cursorNanos(after), afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("due renewals: %w", err)
	}
	defer rows.Close()
	var out []DueSubscription
	for rows.Next() {
		var d DueSubscription
		var at int64
		if err := rows.Scan(&d.ID, &at); err != nil {
			return nil, err
		}
		d.DueAt = fromNanos(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// cursorNanos is a cursor's time as stored; the zero time (no cursor) is
// before every stored one.
func cursorNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}
