package domain

import "time"

// OrderRef is the part every order event's body carries, so a consumer of any
// one event knows whose order it is, for what and how much.
type OrderRef struct {
	OrderID  OrderID  `json:"order_id"`
	UserID   string   `json:"user_id"`
	PlanID   PlanID   `json:"plan_id"`
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// StreamID is the order's stream.
func (r OrderRef) StreamID() string { return r.OrderID.Stream() }

// Ref is the order an event is about: every order event has it.
func (r OrderRef) Ref() OrderRef { return r }

// OrderPlaced: an order was accepted and awaits its payment. It is the first
// event of the order's stream; IdempotencyKey and Fingerprint identify the
// request that placed it.
type OrderPlaced struct {
	OrderRef
	PaymentMethodID PaymentMethodID `json:"payment_method_id"`
	SubscriptionID  SubscriptionID  `json:"subscription_id,omitempty"`
	Renewal         bool            `json:"renewal,omitempty"`
	IdempotencyKey  string          `json:"idempotency_key"`
	Fingerprint     string          `json:"fingerprint"`
	PlacedAt        time.Time       `json:"placed_at"`
}

// OrderPaid: the provider charged the order's amount.
type OrderPaid struct {
	OrderRef
	ProviderPaymentID string    `json:"provider_payment_id"`
	PaidAt            time.Time `json:"paid_at"`
}

// OrderPaymentFailed: the provider refused the charge; the order is final.
type OrderPaymentFailed struct {
	OrderRef
	FailureCode    string    `json:"failure_code"`
	FailureMessage string    `json:"failure_message"`
	FailedAt       time.Time `json:"failed_at"`
}

// PaymentAttemptFailed: the provider declined one attempt to charge a
// renewal order; the order stays pending (its failure code the last
// decline) while retries follow, and fails with the last one.
type PaymentAttemptFailed struct {
	OrderRef
	Attempt        int       `json:"attempt"`
	FailureCode    string    `json:"failure_code"`
	FailureMessage string    `json:"failure_message"`
	FailedAt       time.Time `json:"failed_at"`
}

// RefundRequested: a full refund of a paid order was asked for.
type RefundRequested struct {
	OrderRef
	RefundID    RefundID  `json:"refund_id"`
	RequestedAt time.Time `json:"requested_at"`
}

// OrderRefunded: the provider refunded the order's full amount.
type OrderRefunded struct {
	OrderRef
	RefundID         RefundID  `json:"refund_id"`
	ProviderRefundID string    `json:"provider_refund_id"`
	RefundedAt       time.Time `json:"refunded_at"`
}

// RefundFailed: the provider refused the refund; the order is paid again and
// refundable.
type RefundFailed struct {
	OrderRef
	RefundID    RefundID  `json:"refund_id"`
	FailureCode string    `json:"failure_code"`
	FailedAt    time.Time `json:"failed_at"`
}

func (OrderPlaced) EventType() string          { return EventOrderPlaced }
func (OrderPaid) EventType() string            { return EventOrderPaid }
func (OrderPaymentFailed) EventType() string   { return EventOrderPaymentFailed }
func (PaymentAttemptFailed) EventType() string { return EventPaymentAttemptFailed }
func (RefundRequested) EventType() string      { return EventRefundRequested }
func (OrderRefunded) EventType() string        { return EventOrderRefunded }
func (RefundFailed) EventType() string         { return EventRefundFailed }
