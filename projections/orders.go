package projections

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/robotlabor/billing/domain"
)

// Order is an order as GET /v1/me/wallet/orders shows it.
type Order struct {
	ID              string     `json:"id"`
	UserID          string     `json:"-"`
	PlanID          string     `json:"plan_id"`
	Status          string     `json:"status"`
	Currency        string     `json:"currency"`
	Amount          int64      `json:"amount"`
	IsRefundable    bool       `json:"is_refundable"`
	CreatedAt       time.Time  `json:"created_at"`
	PaymentMethodID string     `json:"payment_method_id"`
	SubscriptionID  *string    `json:"subscription_id"`
	FailureCode     *string    `json:"failure_code"`
	RefundedAt      *time.Time `json:"refunded_at"`
}

// OrderQuery asks for one page of a user's orders: at most Limit (1..100),
// sorted by SortBy ("created_at", the default when empty, or "amount") with
// ties broken by id, both ascending or both descending (Desc), starting
// right after the order AfterID (a plain order id; the first page when
// empty).
type OrderQuery struct {
	Limit   int
	AfterID string
	SortBy  string
	Desc    bool
}

const orderColumns = `id, user_id, plan_id, status, currency, amount, is_refundable, created_at,
	payment_method_id, subscription_id, failure_code, refunded_at`

// Orders returns a page of userID's orders and whether more follow. An
// AfterID that is not one of the user's orders is ErrInvalidCursor; an
// unknown SortBy is an error.
func (rm *ReadModels) Orders(ctx context.Context, userID string, q OrderQuery) (items []Order, hasMore bool, err error) {
	sortBy, err := orderSortColumn(q.SortBy)
	if err != nil {
		return nil, false, err
	}
	return listPage(ctx, rm.queries, listQuery{
		table: "orders", columns: orderColumns, sortBy: sortBy, desc: q.Desc,
		userID: userID, afterID: q.AfterID, limit: q.Limit,
	}, scanOrder)
}

// orderSortColumn maps a sort field to its column: only indexed ones.
func orderSortColumn(field string) (string, error) {
	switch field {
	case "", "created_at":
		return "created_at", nil
	case "amount":
		return "amount", nil
	}
	return "", fmt.Errorf("list orders: cannot sort by %q (created_at or amount)", field)
}

// Order returns userID's order orderID, or ErrNotFound.
func (rm *ReadModels) Order(ctx context.Context, userID, orderID string) (Order, error) {
	return getRow(ctx, rm.queries, "orders", orderColumns, userID, orderID, scanOrder)
}

func scanOrder(s scanner) (Order, error) {
	var (
		o                         Order
		created                   int64
		subscription, failureCode sql.NullString
		refunded                  sql.NullInt64
	)
	err := s.Scan(&o.ID, &o.UserID, &o.PlanID, &o.Status, &o.Currency, &o.Amount, &o.IsRefundable, &created,
		&o.PaymentMethodID, &subscription, &failureCode, &refunded)
	if err != nil {
		return o, err
	}
	o.CreatedAt, o.SubscriptionID, o.FailureCode, o.RefundedAt = fromNanos(created), stringPtr(subscription), stringPtr(failureCode), timePtr(refunded)
	return o, nil
}

// The order state machine of the domain (see docs/events.md), one statement
// per event. A repeated order.placed keeps the first. An outcome for an
// order never placed would change nothing, but cannot be in the log: an
// order's stream starts with order.placed by construction.

func (w *writeTx) placeOrder(e domain.OrderPlaced) error {
	_, err := w.exec(`INSERT INTO orders (id, user_id, plan_id, status, currency, amount, is_refundable,
		created_at, payment_method_id, subscription_id) VALUES (?, ?, ?, 'pending', ?, ?, 0, ?, ?, ?)
		ON CONFLICT DO NOTHING`,
		e.OrderID, e.UserID, e.PlanID, e.Currency, e.Amount, nanos(e.PlacedAt), e.PaymentMethodID, nullString(string(e.SubscriptionID)))
	return err
}

func (w *writeTx) payOrder(e domain.OrderPaid) error {
	_, err := w.exec(`UPDATE orders SET status = 'paid', is_refundable = 1 WHERE id = ?`, e.OrderID)
	return err
}

func (w *writeTx) failOrder(e domain.OrderPaymentFailed) error {
	_, err := w.exec(`UPDATE orders SET status = 'failed', is_refundable = 0, failure_code = ? WHERE id = ?`,
		nullString(e.FailureCode), e.OrderID)
	return err
}

func (w *writeTx) requestRefund(e domain.RefundRequested) error {
	_, err := w.exec(`UPDATE orders SET status = 'refund_pending', is_refundable = 0 WHERE id = ?`, e.OrderID)
	return err
}

func (w *writeTx) refundOrder(e domain.OrderRefunded) error {
	_, err := w.exec(`UPDATE orders SET status = 'refunded', is_refundable = 0, refunded_at = ? WHERE id = ?`,
		nullTime(e.RefundedAt), e.OrderID)
	return err
}

// failRefund: the provider refused the refund; the order is paid, and
// refundable, again.
func (w *writeTx) failRefund(e domain.RefundFailed) error {
	_, err := w.exec(`UPDATE orders SET status = 'paid', is_refundable = 1 WHERE id = ?`, e.OrderID)
	return err
}

// UnsettledOrder is an order still pending or waiting for a refund.
type UnsettledOrder struct {
	ID        string
	CreatedAt time.Time
}

// Unsettled returns up to limit orders, oldest first, that are still
// pending or refund_pending, placed after after and before before: the
// reconciler's sweep pages through them and asks the ledger again.
func (rm *ReadModels) Unsettled(ctx context.Context, after, before time.Time, limit int) ([]UnsettledOrder, error) {
	rows, err := rm.readers.QueryContext(ctx, `SELECT id, created_at FROM orders INDEXED BY orders_unsettled
		WHERE status IN ('pending', 'refund_pending') AND created_at > ? AND created_at < ? ORDER BY created_at LIMIT ?`,
		after.UnixNano(), before.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("unsettled orders: %w", err)
	}
	defer rows.Close()
	var out []UnsettledOrder
	for rows.Next() {
		var o UnsettledOrder
		var created int64
		if err := rows.Scan(&o.ID, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromNanos(created)
		out = append(out, o)
	}
	return out, rows.Err()
}
