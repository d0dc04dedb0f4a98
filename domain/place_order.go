package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// PlaceOrder is a user's request to buy a plan with a saved card. Amount is
// nil when the request omitted it.
type PlaceOrder struct {
	UserID          string
	IdempotencyKey  string
	PlanID          string
	PaymentMethodID string
	Amount          *int64
}

// OrderID is the order this request places: the same for every retry with
// the same (user, key).
func (cmd PlaceOrder) OrderID() OrderID { return OrderIDFor(cmd.UserID, cmd.IdempotencyKey) }

// Fingerprint identifies the request's body; a replay has the same one.
func (cmd PlaceOrder) Fingerprint() string {
	return Fingerprint(cmd.PlanID, cmd.PaymentMethodID, cmd.Amount)
}

// Decide returns the events that place the order: order.placed, and for a
// recurring plan also subscription.created (the order is the subscription's
// first payment). Retries are the caller's concern: it appends order.placed
// with PlacedEventID to a stream that must not exist yet, and compares an
// existing order's Fingerprint with cmd.Fingerprint().
//
// It returns:
//   - ErrValidation with Param "user_id", "idempotency_key" (1..255
//     characters), "plan_id", "payment_method_id" (required) or "amount";
//   - ErrPlanNotFound when no active plan in catalog has the id;
//   - ErrAmountNotAllowed or ErrAmountOutOfRange (see Plan.ResolveAmount);
//   - ErrPaymentMethodNotFound when the card is not attached to wallet.
func (cmd PlaceOrder) Decide(catalog *Catalog, wallet *Wallet, now time.Time) ([]Event, error) {
	if err := cmd.validate(); err != nil {
		return nil, err
	}
	var plan Plan
	ok := false
	if catalog != nil {
		plan, ok = catalog.Plan(PlanID(cmd.PlanID))
	}
	if !ok {
		return nil, refuse(ErrPlanNotFound, "plan_id", "plan %s not found", cmd.PlanID)
	}
	money, err := plan.ResolveAmount(cmd.Amount)
	if err != nil {
		return nil, err
	}
	pm := PaymentMethodID(cmd.PaymentMethodID)
	if wallet == nil || wallet.UserID != cmd.UserID || !wallet.HasCard(pm) {
		return nil, refuse(ErrPaymentMethodNotFound, "payment_method_id", "payment method %s not found", pm)
	}
	placed := OrderPlaced{
		OrderRef: OrderRef{
			OrderID: cmd.OrderID(), UserID: cmd.UserID, PlanID: plan.ID, Amount: money.Amount, Currency: money.Currency,
		},
		PaymentMethodID: pm, IdempotencyKey: cmd.IdempotencyKey, Fingerprint: cmd.Fingerprint(), PlacedAt: now.UTC(),
	}
	if plan.Type != Recurring {
		return []Event{placed}, nil
	}
	placed.SubscriptionID = SubscriptionIDFor(placed.OrderID)
	return []Event{placed, NewSubscriptionCreated(placed, plan)}, nil
}

func (cmd PlaceOrder) validate() error {
	if cmd.UserID == "" || strings.ContainsRune(cmd.UserID, 0) {
		return Invalid("user_id", "user_id is required and cannot contain NUL")
	}
	if n := utf8.RuneCountInString(cmd.IdempotencyKey); n < 1 || n > 255 {
		return Invalid("idempotency_key", fmt.Sprintf("idempotency_key must be 1..255 characters, got %d", n))
	}
	if cmd.PlanID == "" {
		return Invalid("plan_id", "plan_id is required")
	}
	if cmd.PaymentMethodID == "" {
		return Invalid("payment_method_id", "payment_method_id is required")
	}
	return nil
}
