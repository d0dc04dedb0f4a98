package http

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
)

// TestErrorsMapToTheirStatus: the one place errors become answers. A 500
// never carries the internal error's text (api.md: "never with internals
// in the message"); the kinds keep their status when wrapped.
func TestErrorsMapToTheirStatus(t *testing.T) {
	secret := "open /var/lib/billing/events.db: disk I/O error"
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{errors.New(secret), http.StatusInternalServerError, "internal"},
		{fmt.Errorf("place order: %w", domain.ErrPlanNotFound), http.StatusUnprocessableEntity, "plan_not_found"},
		{fmt.Errorf("refund: %w", domain.ErrOrderNotRefundable), http.StatusConflict, "order_not_refundable"},
		{fmt.Errorf("order: %w", app.ErrNotFound), http.StatusNotFound, "not_found"},
		{projections.ErrNotFound, http.StatusNotFound, "not_found"},
		{fmt.Errorf("page: %w", projections.ErrInvalidCursor), http.StatusBadRequest, "invalid_request"},
		{app.ErrIdempotencyKeyReused, http.StatusConflict, "idempotency_key_reused"},
		{invalidRequest("limit", "bad"), http.StatusBadRequest, "invalid_request"},
	} {
		status, detail := toHTTP(tc.err)
		if status != tc.status || detail.Code != tc.code || detail.Message == "" {
			t.Errorf("%v: %d %+v, want %d %s with a message", tc.err, status, detail, tc.status, tc.code)
		}
		if status == http.StatusInternalServerError && strings.Contains(detail.Message, "disk") {
			t.Errorf("a 500 reveals the internal error: %q", detail.Message)
		}
	}
}
