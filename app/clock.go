package app

import (
	"context"
	"time"

	"github.com/robotlabor/billing/domain"
)

// AdvanceClock moves userID's test clock to to, as domain.TestClock.Advance
// decides (refusing a time before its now, or too far ahead).
func AdvanceClock(ctx context.Context, l *Log, userID string, to time.Time, meta Metadata) error {
	meta.UserID = userID
	real := l.Now()
	_, _, err := Update(ctx, l, domain.ClockStream(userID), func() *domain.TestClock { return &domain.TestClock{UserID: userID} },
		func(c *domain.TestClock) ([]domain.Event, error) { return c.Advance(userID, to, real) }, meta)
	return err
}
