package projections

import (
	"context"
	"time"

	"github.com/robotlabor/billing/domain"
)

// PaymentMethod is a saved card as GET /v1/me/payment-methods shows it.
type PaymentMethod struct {
	ID        string    `json:"id"`
	Brand     string    `json:"brand"`
	Last4     string    `json:"last4"`
	ExpMonth  int       `json:"exp_month"`
	ExpYear   int       `json:"exp_year"`
	CreatedAt time.Time `json:"created_at"`
}

const paymentMethodColumns = `id, brand, last4, exp_month, exp_year, created_at`

// PaymentMethods returns a page of userID's attached cards, newest first
// (ties by id), and the cursor of the next page (empty when this is the
// last). A cursor that does not decode or names none of the user's cards is
// ErrInvalidCursor.
func (rm *ReadModels) PaymentMethods(ctx context.Context, userID string, p Page) (items []PaymentMethod, next string, err error) {
	q := listQuery{table: "payment_methods", columns: paymentMethodColumns, sortBy: "created_at", desc: true, userID: userID, limit: p.Limit}
	if p.Cursor != "" {
		if q.afterID, err = decodeCursor(p.Cursor); err != nil {
			return nil, "", err
		}
	}
	var hasMore bool
	if p.AsOf.IsZero() {
		items, hasMore, err = listPage(ctx, rm.queries, q, scanPaymentMethod)
	} else {
		items, hasMore, err = rm.paymentMethodsAsOf(ctx, q, p.AsOf)
	}
	if err != nil {
		return nil, "", err
	}
	return items, nextCursor(items, hasMore, func(pm PaymentMethod) string { return pm.ID }), nil
}

// PaymentMethod returns userID's attached card id, or ErrNotFound (also
// once it is detached).
func (rm *ReadModels) PaymentMethod(ctx context.Context, userID, id string) (PaymentMethod, error) {
	return getRow(ctx, rm.queries, "payment_methods", paymentMethodColumns, userID, id, scanPaymentMethod)
}

func scanPaymentMethod(s scanner) (PaymentMethod, error) {
	var (
		pm      PaymentMethod
		created int64
	)
	if err := s.Scan(&pm.ID, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear, &created); err != nil {
		return pm, err
	}
	pm.CreatedAt = fromNanos(created)
	return pm, nil
}

// attachCard lists a saved card; a card attached again (a replayed setup
// completion) is listed once.
func (w *writeTx) attachCard(e domain.CardAttached) error {
	_, err := w.exec(`INSERT INTO payment_methods (id, user_id, brand, last4, exp_month, exp_year, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.PaymentMethodID, e.UserID, e.Brand, e.Last4, e.ExpMonth, e.ExpYear, nanos(e.AttachedAt))
	return err
}

// detachCard removes a card from the list: a detached card can pay no more.
func (w *writeTx) detachCard(e domain.CardDetached) error {
	_, err := w.exec(`DELETE FROM payment_methods WHERE id = ? AND user_id = ?`, e.PaymentMethodID, e.UserID)
	return err
}
