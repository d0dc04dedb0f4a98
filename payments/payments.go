package payments

import (
	"encoding/json"
	"errors"
	"time"
)

// Status is a definite outcome at the provider.
type Status string

const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	// Pending: accepted, outcome to follow (refunds may take time).
	Pending Status = "pending"
)

// Failure codes of declined charges, as api.md and Stripe name them.
const (
	CodeCardDeclined      = "card_declined"
	CodeInsufficientFunds = "insufficient_funds"
	CodeExpiredCard       = "expired_card"
	CodeProcessingError   = "processing_error"
)

var (
	// ErrNotFound: the provider has no such object (session, payment, subscription).
	ErrNotFound = errors.New("payments: not found")
	// ErrInvalidRequest: the provider refused the request itself (a missing
	// field, an idempotency key reused with other parameters). Unlike other
	// errors the outcome is known: nothing happened, and sending the same
	// request again cannot succeed.
	ErrInvalidRequest = errors.New("payments: invalid request")
	// ErrBadSignature: a webhook is unsigned, wrongly signed or stale.
	// Nothing may be recorded from it.
	ErrBadSignature = errors.New("payments: webhook signature invalid or too old")
)

// CreateCustomer asks for the provider's customer of one user.
type CreateCustomer struct {
	UserID         string
	IdempotencyKey string
}

// CreateSetupSession asks for a hosted page where the user saves a card.
type CreateSetupSession struct {
	CustomerID     string
	UserID         string
	SessionID      string // the ledger's own id for it (cs_…)
	ReturnURL      string // where the browser goes after success; may be empty
	IdempotencyKey string
}

// SetupSession is the provider's hosted card page.
type SetupSession struct {
	ProviderSessionID string
	URL               string
	ExpiresAt         time.Time
}

// Card is a saved card as the provider describes it.
type Card struct {
	ProviderPaymentMethodID string
	Brand                   string // visa, mastercard, …
	Last4                   string
	ExpMonth                int
	ExpYear                 int
}

// SetupCompleted is the provider's news that a user saved a card on a
// session's page (Stripe: checkout.session.completed; the sandbox: its page).
type SetupCompleted struct {
	ProviderEventID   string // deduplicates redeliveries
	ProviderSessionID string
	SessionID         string // the ledger's cs_… id given at creation
	UserID            string
	CustomerID        string
	Card              Card
	// CompletedAt is when the user saved the card: a late or redelivered
	// report of a session completed in time is still in time.
	CompletedAt time.Time
}

// Charge asks to charge a saved card off-session.
type Charge struct {
	CustomerID      string
	PaymentMethodID string // the provider's payment method id
	Amount          int64  // minor units
	Currency        string
	OrderID         string // the ledger's ord_… id, for the provider's records
	IdempotencyKey  string
}

// ChargeResult is a charge's definite outcome.
type ChargeResult struct {
	Status            Status // Succeeded or Failed
	ProviderPaymentID string
	FailureCode       string // when Failed: card_declined, insufficient_funds, …
	FailureMessage    string
}

// Succeeded reports a charge that took the money.
func (r ChargeResult) Succeeded() bool { return r.Status == Succeeded }

// Refund asks to refund a charge in full.
type Refund struct {
	ProviderPaymentID string
	Amount            int64
	Currency          string
	OrderID           string
	IdempotencyKey    string
}

// RefundResult is a refund's outcome; Pending means a later answer.
type RefundResult struct {
	Status           Status
	ProviderRefundID string
	FailureCode      string
}

// Succeeded reports a refund that gave the money back.
func (r RefundResult) Succeeded() bool { return r.Status == Succeeded }

// Pending reports a refund the provider accepted and has not settled.
func (r RefundResult) Pending() bool { return r.Status == Pending }

// StartSubscription asks to start a recurring plan on a saved card; the
// first period is charged at once.
type StartSubscription struct {
	CustomerID      string
	PaymentMethodID string
	PlanID          string
	PriceRef        string // the provider's price for the plan (Stripe price id or lookup key); may be empty for the sandbox
	Amount          int64
	Currency        string
	Interval        string // day, week, month, year
	IntervalCount   int
	SubscriptionID  string // the ledger's sub_… id
	OrderID         string // the ledger's ord_… id of the first payment
	IdempotencyKey  string
}

// SubscriptionResult is a started subscription and its first payment.
type SubscriptionResult struct {
	ProviderSubscriptionID string
	FirstPayment           ChargeResult
	PeriodStart            time.Time
	PeriodEnd              time.Time
}

// FindPayment asks what became of an order's payment (a charge, or a
// subscription's start with its first payment) without making it: once a
// call with the order's key may no longer be recognised (keys expire at
// Stripe), or must not be made (the subscription was canceled first).
type FindPayment struct {
	CustomerID     string
	OrderID        string    // the ledger's ord_… id, as the call tagged it
	SubscriptionID string    // the ledger's sub_… id, for a subscription's start
	Since          time.Time // no earlier than the first call
	// IdempotencyKey is the first call's: a provider that never forgets
	// (the sandbox) answers from it.
	IdempotencyKey string
}

// FindRefund asks what became of a payment's refund (see FindPayment).
type FindRefund struct {
	ProviderPaymentID string
	OrderID           string
}

// Price is a plan's recurring price as the provider charges it.
type Price struct {
	Amount        int64 // minor units
	Currency      string
	Interval      string // day, week, month, year; empty for a one-time price
	IntervalCount int
}

// UpdateSubscription changes a subscription the provider bills by itself:
// whether it ends at its period's end, and/or the card it charges (nil and
// empty: unchanged).
type UpdateSubscription struct {
	ProviderSubscriptionID string
	CancelAtPeriodEnd      *bool
	PaymentMethodID        string // the provider's
	IdempotencyKey         string
}

// CancelSubscription asks to end a subscription now.
type CancelSubscription struct {
	ProviderSubscriptionID string
	IdempotencyKey         string
}

// ProviderEvent is news from the provider (a Stripe webhook event), as the
// ledger records it before acting on it.
type ProviderEvent struct {
	Provider           string          // "stripe"
	ID                 string          // the provider's event id: deduplicates redeliveries
	Type               string          // e.g. checkout.session.completed
	Created            time.Time       // when the provider created it
	Object             json.RawMessage // the event's object (data.object) as sent
	PreviousAttributes json.RawMessage // for *.updated events; may be nil
}

// NoticeKind is what a provider event means for the ledger.
type NoticeKind int

const (
	NoticeNone                NoticeKind = iota // nothing for the ledger to record
	NoticeSetupCompleted                        // a card was saved: Setup
	NoticePaymentSucceeded                      // OrderID was paid: ProviderPaymentID
	NoticePaymentFailed                         // OrderID's payment failed: FailureCode, FailureMessage
	NoticeRefundSucceeded                       // OrderID was refunded in full: ProviderRefundID
	NoticeRefundFailed                          // OrderID's refund failed: FailureCode
	NoticeSubscriptionEnded                     // SubscriptionID ended at the provider
	NoticeSubscriptionRenewed                   // SubscriptionID's next period was paid: ProviderPaymentID
	NoticeSubscriptionPastDue                   // SubscriptionID's renewal failed: FailureCode
	NoticeCardDetached                          // UserID's card ProviderPaymentMethodID was removed
	NoticeCancelAtPeriodEnd                     // SubscriptionID ends at its period's end (CancelAtPeriodEnd) or not any more
)

// Notice is a provider event read for the ledger.
type Notice struct {
	Kind                    NoticeKind
	Setup                   SetupCompleted
	OrderID                 string // the ledger's ord_… id
	ProviderPaymentID       string
	ProviderRefundID        string
	Amount                  int64     // refund notices: how much was refunded (0: not said); renewals: what was paid
	Currency                string    // renewals: of Amount
	InvoiceID               string    // renewals: the provider's invoice
	PeriodStart, PeriodEnd  time.Time // renewals: the period paid for (zero: not said)
	FailureCode             string
	FailureMessage          string
	SubscriptionID          string // the ledger's sub_… id
	ProviderSubscriptionID  string
	UserID                  string // NoticeCardDetached
	ProviderPaymentMethodID string // NoticeCardDetached
	CancelAtPeriodEnd       bool   // NoticeCancelAtPeriodEnd
	PaymentFailed           bool   // NoticeSubscriptionEnded: it ended because its payments failed
}
