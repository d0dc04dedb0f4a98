package sandbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/robotlabor/billing/internal/sqlitex"
	"github.com/robotlabor/billing/payments"
)

// CodePaymentMethodNotFound is the FailureCode of a charge on a payment
// method the customer does not have (api.md's code for the same refusal).
// Stripe answers such a request 400 resource_missing; the sandbox makes it
// a definite Failed result, because an error would mean "outcome unknown,
// retry" to the caller, and no retry can succeed.
const CodePaymentMethodNotFound = "payment_method_not_found"

// Refund failure codes, as Stripe names them.
const (
	CodeChargeAlreadyRefunded = "charge_already_refunded"
	CodeChargeNotRefundable   = "charge_not_refundable" // the charge failed: nothing to give back
)

// failureMessage is Stripe's message for a failure code, for a person.
func failureMessage(code string) string {
	switch code {
	case payments.CodeCardDeclined:
		return "Your card was declined."
	case payments.CodeInsufficientFunds:
		return "Your card has insufficient funds."
	case payments.CodeExpiredCard:
		return "Your card has expired."
	case CodePaymentMethodNotFound:
		return "No such payment method for this customer."
	default:
		return "The payment failed."
	}
}

type chargeRecord struct {
	Status         string `json:"status"`
	PaymentID      string `json:"payment_id,omitempty"`
	FailureCode    string `json:"failure_code,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
}

func (r chargeRecord) result() payments.ChargeResult {
	return payments.ChargeResult{
		Status:            payments.Status(r.Status),
		ProviderPaymentID: r.PaymentID,
		FailureCode:       r.FailureCode,
		FailureMessage:    r.FailureMessage,
	}
}

// Charge charges a saved card off-session. The outcome follows the card:
// Succeeded with a pi_sbx_… id, or Failed with FailureCode card_declined,
// insufficient_funds, expired_card (the card expired since it was saved) or
// CodePaymentMethodNotFound (not this customer's card). A decline still has
// a pi_sbx_… id, as Stripe creates a PaymentIntent for it; a charge on an
// unknown card has none.
// Errors: ErrInvalidRequest (Amount ≤ 0, a missing field), ErrIdempotencyKeyReused.
func (s *Sandbox) Charge(ctx context.Context, c payments.Charge) (payments.ChargeResult, error) {
	p := chargeParams{c.CustomerID, c.PaymentMethodID, c.Amount, strings.ToLower(c.Currency), c.OrderID}
	if err := p.validate(); err != nil {
		return payments.ChargeResult{}, fmt.Errorf("sandbox charge order %s: %w", c.OrderID, err)
	}
	hash := requestHash(opCharge, p.customerID, p.paymentMethodID, itoa(p.amount), p.currency, p.orderID)
	rec, err := idempotent(ctx, s, c.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (chargeRecord, error) {
		return s.charge(ctx, tx, p)
	})
	if err != nil {
		return payments.ChargeResult{}, fmt.Errorf("sandbox charge order %s: %w", c.OrderID, err)
	}
	return rec.result(), nil
}

type chargeParams struct {
	customerID, paymentMethodID string
	amount                      int64
	currency                    string
	orderID                     string
}

func (p chargeParams) validate() error {
	switch {
	case p.customerID == "":
		return fmt.Errorf("CustomerID is required: %w", ErrInvalidRequest)
	case p.paymentMethodID == "":
		return fmt.Errorf("PaymentMethodID is required: %w", ErrInvalidRequest)
	case p.amount <= 0:
		return fmt.Errorf("amount %d must be positive: %w", p.amount, ErrInvalidRequest)
	case p.currency == "":
		return fmt.Errorf("currency is required: %w", ErrInvalidRequest)
	}
	return nil
}

// charge decides a charge by its card and records it (within tx).
func (s *Sandbox) charge(ctx context.Context, tx *sqlitex.Tx, p chargeParams) (chargeRecord, error) {
	pm, err := s.savedCard(ctx, tx, p.paymentMethodID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && pm.customerID != p.customerID) {
		return failed(CodePaymentMethodNotFound), nil
	} else if err != nil {
		return chargeRecord{}, err
	}
	now := s.now()
	declineCode := pm.declineCode
	if expired(pm.expMonth, pm.expYear, now) {
		declineCode = payments.CodeExpiredCard
	}
	rec := chargeRecord{Status: string(payments.Succeeded)}
	if declineCode != "" {
		rec = failed(declineCode)
	}
	rec.PaymentID = newOrderedID("pi_sbx_", now)
	_, err = tx.ExecContext(ctx, `INSERT INTO charges
		(id, customer_id, payment_method_id, amount, currency, order_id, status, failure_code, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.PaymentID, p.customerID, p.paymentMethodID, p.amount, p.currency, p.orderID, rec.Status, rec.FailureCode, unixNano(now))
	return rec, err
}

// savedCard is what a charge needs of a saved card; sql.ErrNoRows for an
// unknown id. A saved card never changes: no statement updates or deletes
// a payment_methods row, and completeSetup commits each in a transaction of
// its own, never in a batch that a charge's failure could roll back. So a
// card once read is kept in s.cards, which spares each charge a lookup.
func (s *Sandbox) savedCard(ctx context.Context, tx *sqlitex.Tx, id string) (savedCard, error) {
	if pm, ok := s.cards.Get(id); ok {
		return pm, nil
	}
	pm := savedCard{}
	err := tx.QueryRowContext(ctx, `SELECT customer_id, decline_code, exp_month, exp_year FROM payment_methods WHERE id = ?`, id).
		Scan(&pm.customerID, &pm.declineCode, &pm.expMonth, &pm.expYear)
	if err != nil {
		return savedCard{}, err
	}
	s.cards.Add(id, pm)
	return pm, nil
}

type savedCard struct {
	customerID        string
	declineCode       string // "" when charges succeed
	expMonth, expYear int
}

func failed(code string) chargeRecord {
	return chargeRecord{Status: string(payments.Failed), FailureCode: code, FailureMessage: failureMessage(code)}
}

type refundRecord struct {
	Status      string `json:"status"`
	RefundID    string `json:"refund_id,omitempty"`
	FailureCode string `json:"failure_code,omitempty"`
}

// Refund refunds a succeeded charge in full, at once: Succeeded with a
// re_sbx_… id. Amount may be 0 (meaning the full amount) or the charge's
// amount; Currency may be empty or the charge's. A charge refunded before
// (under another key) → Failed, CodeChargeAlreadyRefunded; a failed charge →
// Failed, CodeChargeNotRefundable.
// Errors: payments.ErrNotFound (unknown charge), ErrInvalidRequest (a
// missing field, a partial amount, another currency), ErrIdempotencyKeyReused.
func (s *Sandbox) Refund(ctx context.Context, r payments.Refund) (payments.RefundResult, error) {
	currency := strings.ToLower(r.Currency)
	if r.ProviderPaymentID == "" || r.Amount < 0 {
		return payments.RefundResult{}, fmt.Errorf("sandbox refund order %s: ProviderPaymentID is required and Amount must not be negative: %w", r.OrderID, ErrInvalidRequest)
	}
	hash := requestHash(opRefund, r.ProviderPaymentID, itoa(r.Amount), currency, r.OrderID)
	rec, err := idempotent(ctx, s, r.IdempotencyKey, hash, func(ctx context.Context, tx *sqlitex.Tx) (refundRecord, error) {
		return s.refund(ctx, tx, r.ProviderPaymentID, r.Amount, currency, r.OrderID)
	})
	if err != nil {
		return payments.RefundResult{}, fmt.Errorf("sandbox refund %s of order %s: %w", r.ProviderPaymentID, r.OrderID, err)
	}
	return payments.RefundResult{Status: payments.Status(rec.Status), ProviderRefundID: rec.RefundID, FailureCode: rec.FailureCode}, nil
}

func (s *Sandbox) refund(ctx context.Context, tx *sqlitex.Tx, chargeID string, amount int64, currency, orderID string) (refundRecord, error) {
	var charged int64
	var chargedCurrency, status string
	var refunded bool
	err := tx.QueryRowContext(ctx, `SELECT amount, currency, status, EXISTS (SELECT 1 FROM refunds WHERE charge_id = charges.id)
		FROM charges WHERE id = ?`, chargeID).Scan(&charged, &chargedCurrency, &status, &refunded)
	if errors.Is(err, sql.ErrNoRows) {
		return refundRecord{}, fmt.Errorf("charge %s: %w", chargeID, payments.ErrNotFound)
	} else if err != nil {
		return refundRecord{}, err
	}
	if (amount != 0 && amount != charged) || (currency != "" && currency != chargedCurrency) {
		return refundRecord{}, fmt.Errorf("only a full refund of %d %s is possible: %w", charged, chargedCurrency, ErrInvalidRequest)
	}
	switch {
	case status != string(payments.Succeeded):
		return refundRecord{Status: string(payments.Failed), FailureCode: CodeChargeNotRefundable}, nil
	case refunded:
		return refundRecord{Status: string(payments.Failed), FailureCode: CodeChargeAlreadyRefunded}, nil
	}
	id := newID("re_sbx_")
	_, err = tx.ExecContext(ctx, `INSERT INTO refunds (id, charge_id, amount, currency, order_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, chargeID, charged, chargedCurrency, orderID, unixNano(s.now()))
	return refundRecord{Status: string(payments.Succeeded), RefundID: id}, err
}
