package http

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
)

// Clocks is the users' test clocks (the sandbox only; nil with Stripe,
// whose own test clocks apply).
type Clocks interface {
	// Clock is userID's test clock as the API shows it.
	Clock(ctx context.Context, userID string) (TestClock, error)
	// Advance starts moving userID's clock to to, refusing at once what
	// the domain refuses; the channel tells when everything due up to to
	// is handled and the read models show it.
	Advance(ctx context.Context, userID string, to time.Time, meta app.Metadata) (<-chan error, error)
}

// TestClock is a user's test clock as the API shows it.
type TestClock struct {
	Now    time.Time `json:"now"`
	Frozen bool      `json:"frozen"`
	Status string    `json:"status"` // ready, or advancing while an advance runs
}

// getTestClock answers GET /v1/me/test_clock.
func (s *Server) getTestClock(c *gin.Context) {
	clock, err := s.cfg.Clocks.Clock(c.Request.Context(), userOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, clock)
}

// advanceTestClock answers POST /v1/me/test_clock/advance: 200 with the
// clock once everything due up to the time is handled, or 202 while it
// still runs after the bounded wait (Config.OutcomeWait).
func (s *Server) advanceTestClock(c *gin.Context) {
	var body struct {
		To *string `json:"to"`
	}
	if err := decodeJSON(c, &body, false); err != nil {
		fail(c, err)
		return
	}
	if body.To == nil {
		fail(c, domain.Invalid("to", "to is required: an RFC 3339 time"))
		return
	}
	to, err := time.Parse(time.RFC3339Nano, *body.To)
	if err != nil {
		fail(c, domain.Invalid("to", "to must be an RFC 3339 time, such as 2026-05-01T00:00:00Z"))
		return
	}
	ctx := c.Request.Context()
	done, err := s.cfg.Clocks.Advance(ctx, userOf(c), to, metadata(c))
	if err != nil {
		fail(c, err)
		return
	}
	status := http.StatusOK
	wait := time.NewTimer(s.cfg.OutcomeWait)
	defer wait.Stop()
	select {
	case err := <-done:
		if err != nil {
			fail(c, err)
			return
		}
	case <-wait.C:
		status = http.StatusAccepted
	case <-ctx.Done():
		fail(c, ctx.Err())
		return
	}
	clock, err := s.cfg.Clocks.Clock(ctx, userOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	if status == http.StatusAccepted {
		clock.Status = "advancing" // this advance was, when the wait ended
	}
	c.PureJSON(status, clock)
}
