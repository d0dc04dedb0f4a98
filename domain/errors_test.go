package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/robotlabor/billing/domain"
)

func TestErrorsMatchByCode(t *testing.T) {
	sentinels := map[string]error{
		"validation_failed":        domain.ErrValidation,
		"plan_not_found":           domain.ErrPlanNotFound,
		"amount_not_allowed":       domain.ErrAmountNotAllowed,
		"amount_out_of_range":      domain.ErrAmountOutOfRange,
		"payment_method_not_found": domain.ErrPaymentMethodNotFound,
		"order_not_refundable":     domain.ErrOrderNotRefundable,
		"setup_session_not_found":  domain.ErrSetupSessionNotFound,
		"setup_session_expired":    domain.ErrSetupSessionExpired,
		"setup_session_completed":  domain.ErrSetupSessionCompleted,
		"invalid_transition":       domain.ErrInvalidTransition,
	}
	for code, sentinel := range sentinels {
		t.Run(code, func(t *testing.T) {
			var e *domain.Error
			if !errors.As(sentinel, &e) || e.Code != code {
				t.Fatalf("sentinel %v has code %q, want %q", sentinel, e.Code, code)
			}
			detailed := fmt.Errorf("place order: %w", &domain.Error{Code: code, Message: "detail", Param: "x"})
			if !errors.Is(detailed, sentinel) {
				t.Errorf("wrapped detailed %v does not match its sentinel", detailed)
			}
			for other, s := range sentinels {
				if other != code && errors.Is(detailed, s) {
					t.Errorf("%s matches %s", code, other)
				}
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	err := domain.Invalid("amount", "amount must not be negative")

	var got *domain.Error
	if !errors.Is(err, domain.ErrValidation) || !errors.As(err, &got) {
		t.Fatalf("Invalid() = %v, not a validation error", err)
	}
	want := domain.Error{Code: "validation_failed", Message: "amount must not be negative", Param: "amount"}
	if *got != want {
		t.Errorf("got %+v, want %+v", *got, want)
	}
	if got, want := err.Error(), "validation_failed: amount must not be negative"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
