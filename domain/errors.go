package domain

import "fmt"

// Error is a business-rule refusal. Code is the stable snake_case code the API
// answers with; Message is for a person; Param names the offending request
// field, if any.
//
// The package's sentinels carry only a Code and a generic Message; decisions
// return copies with a specific Message and Param. errors.Is matches any two
// *Error values with the same Code, so errors.Is(err, ErrPlanNotFound) holds
// for every detailed copy, wrapped or not.
type Error struct {
	Code    string
	Message string
	Param   string
}

// Error returns "code: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The refusals a decision may return. The codes are part of the API contract:
// they never change once shipped.
var (
	// ErrValidation: a field is missing or outside its allowed form. Build
	// detailed copies with Invalid.
	ErrValidation error = &Error{Code: "validation_failed", Message: "the request is not valid"}
	// ErrPlanNotFound: no active plan has the requested id.
	ErrPlanNotFound error = &Error{Code: "plan_not_found", Message: "plan not found"}
	// ErrAmountNotAllowed: an amount was sent for a fixed-price plan and it
	// differs from the price.
	ErrAmountNotAllowed error = &Error{Code: "amount_not_allowed", Message: "amount is not allowed for this plan"}
	// ErrAmountOutOfRange: a custom amount lies outside the plan's range.
	ErrAmountOutOfRange error = &Error{Code: "amount_out_of_range", Message: "amount is out of the plan's range"}
	// ErrPaymentMethodNotFound: the card is not one of the user's attached cards.
	ErrPaymentMethodNotFound error = &Error{Code: "payment_method_not_found", Message: "payment method not found"}
	// ErrOrderNotRefundable: the order is not paid, or a refund was already
	// requested or completed.
	ErrOrderNotRefundable error = &Error{Code: "order_not_refundable", Message: "order is not refundable"}
	// ErrSetupSessionNotFound: the wallet has no card setup session with that id.
	ErrSetupSessionNotFound error = &Error{Code: "setup_session_not_found", Message: "setup session not found"}
	// ErrSetupSessionExpired: the card setup session expired before completion.
	ErrSetupSessionExpired error = &Error{Code: "setup_session_expired", Message: "setup session expired"}
	// ErrSetupSessionCompleted: the card setup session already saved another card.
	ErrSetupSessionCompleted error = &Error{Code: "setup_session_completed", Message: "setup session already completed"}
	// ErrSubscriptionCanceled: a change to a subscription that has ended.
	ErrSubscriptionCanceled error = &Error{Code: "subscription_canceled", Message: "the subscription is canceled"}
	// ErrInvalidTransition: an outcome contradicts recorded history (for
	// example "paid" for an order already recorded as failed).
	ErrInvalidTransition error = &Error{Code: "invalid_transition", Message: "transition contradicts recorded history"}
)

// Invalid returns an ErrValidation refusal naming the offending field.
func Invalid(param, msg string) error {
	return &Error{Code: "validation_failed", Message: msg, Param: param}
}

// refuse returns a detailed copy of sentinel, which must be one of the *Error
// sentinels above.
func refuse(sentinel error, param, format string, args ...any) error {
	return &Error{Code: sentinel.(*Error).Code, Message: fmt.Sprintf(format, args...), Param: param}
}
