package domain

import "time"

// SubscriptionRef is the part every subscription event's body carries. OrderID
// is the subscription's first order.
type SubscriptionRef struct {
	SubscriptionID SubscriptionID `json:"subscription_id"`
	UserID         string         `json:"user_id"`
	PlanID         PlanID         `json:"plan_id"`
	OrderID        OrderID        `json:"order_id"`
}

// StreamID is the subscription's stream.
func (r SubscriptionRef) StreamID() string { return r.SubscriptionID.Stream() }

// SubscriptionCreated: a recurring plan was bought; the subscription waits for
// its first order's payment. Amount, Currency and PaymentMethodID are what
// each renewal charges.
type SubscriptionCreated struct {
	SubscriptionRef
	Interval        Interval        `json:"interval"`
	IntervalCount   int             `json:"interval_count"`
	Amount          int64           `json:"amount"`
	Currency        Currency        `json:"currency"`
	PaymentMethodID PaymentMethodID `json:"payment_method_id"`
	CreatedAt       time.Time       `json:"created_at"`
}

// SubscriptionStarted: the first order was paid; the first period began.
type SubscriptionStarted struct {
	SubscriptionRef
	CurrentPeriodStart     time.Time `json:"current_period_start"`
	CurrentPeriodEnd       time.Time `json:"current_period_end"`
	ProviderSubscriptionID string    `json:"provider_subscription_id,omitempty"`
}

// SubscriptionRenewalDue: the ledger bills this subscription itself (its
// provider does not), and a charge of the period starting at PeriodStart
// is due: attempt 1 at that time, later attempts on the dunning schedule.
// The renewal order is RenewalOrderID (one per period); each attempt is
// charged with its own provider key, derived from this event.
type SubscriptionRenewalDue struct {
	SubscriptionRef
	RenewalOrderID OrderID   `json:"renewal_order_id"`
	PeriodStart    time.Time `json:"period_start"`
	Attempt        int       `json:"attempt"`
	Final          bool      `json:"final,omitempty"` // no retry follows a decline
	DueAt          time.Time `json:"due_at"`
}

// SubscriptionRenewed: a renewal order was paid; the next period began.
type SubscriptionRenewed struct {
	SubscriptionRef
	RenewalOrderID     OrderID   `json:"renewal_order_id"`
	CurrentPeriodStart time.Time `json:"current_period_start"`
	CurrentPeriodEnd   time.Time `json:"current_period_end"`
}

// SubscriptionPastDue: a renewal payment failed; the subscription awaits one
// that succeeds.
type SubscriptionPastDue struct {
	SubscriptionRef
	FailureCode string    `json:"failure_code"`
	At          time.Time `json:"at"`
	Attempt     int       `json:"attempt,omitempty"`  // of the ledger's renewal charge; 0 when the provider bills
	RetryAt     time.Time `json:"retry_at,omitempty"` // the next attempt's time (the ledger's dunning); zero: none
}

// SubscriptionCardChanged: the user chose another saved card for the
// subscription's renewals. While past_due, the unpaid renewal is retried
// with it at once.
type SubscriptionCardChanged struct {
	SubscriptionRef
	PaymentMethodID PaymentMethodID `json:"payment_method_id"`
	ChangedAt       time.Time       `json:"changed_at"`
}

// CancelScheduled: the user asked to end the subscription at its current
// period's end (cancel_at_period_end): it is not renewed.
type CancelScheduled struct {
	SubscriptionRef
	ScheduledAt time.Time `json:"scheduled_at"`
}

// CancelUnscheduled: the user took back a scheduled cancellation before
// the period ended.
type CancelUnscheduled struct {
	SubscriptionRef
	UnscheduledAt time.Time `json:"unscheduled_at"`
}

// SubscriptionCancelRequested: the customer canceled. Cancellation is
// immediate: the subscription is canceled from now; the provider's side is
// confirmed later by SubscriptionCanceled.
type SubscriptionCancelRequested struct {
	SubscriptionRef
	Reason      string    `json:"reason"`
	RequestedAt time.Time `json:"requested_at"`
}

// SubscriptionCanceled: the subscription ended for good (the provider
// confirmed a cancellation, or it ended without provider work, e.g. its first
// payment failed).
type SubscriptionCanceled struct {
	SubscriptionRef
	Reason     string    `json:"reason"`
	CanceledAt time.Time `json:"canceled_at"`
}

func (SubscriptionCreated) EventType() string         { return EventSubscriptionCreated }
func (SubscriptionStarted) EventType() string         { return EventSubscriptionStarted }
func (SubscriptionRenewalDue) EventType() string      { return EventSubscriptionRenewalDue }
func (SubscriptionRenewed) EventType() string         { return EventSubscriptionRenewed }
func (SubscriptionPastDue) EventType() string         { return EventSubscriptionPastDue }
func (SubscriptionCancelRequested) EventType() string { return EventSubscriptionCancelRequested }
func (SubscriptionCardChanged) EventType() string     { return EventSubscriptionCardChanged }
func (CancelScheduled) EventType() string             { return EventCancelScheduled }
func (CancelUnscheduled) EventType() string           { return EventCancelUnscheduled }
func (SubscriptionCanceled) EventType() string        { return EventSubscriptionCanceled }
