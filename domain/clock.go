package domain

import "time"

// EventClockAdvanced is the test clock's one event.
const EventClockAdvanced = "clock.advanced"

// ClockStream is the stream of a user's test clock.
func ClockStream(userID string) string { return "clock-" + userID }

// MaxClockAdvance bounds one advance of a test clock.
const MaxClockAdvance = 2 * 366 * 24 * time.Hour

// ErrClockCannotGoBack: an advance to a time before the clock's now.
var ErrClockCannotGoBack error = &Error{Code: "clock_cannot_go_back", Message: "a test clock cannot go back"}

// ClockAdvanced: a user's test clock (sandbox only) was advanced to To and
// is frozen there: every billing time of the user's follows it.
type ClockAdvanced struct {
	UserID string    `json:"user_id"`
	To     time.Time `json:"to"`
}

func (ClockAdvanced) EventType() string  { return EventClockAdvanced }
func (e ClockAdvanced) StreamID() string { return ClockStream(e.UserID) }

// TestClock is a user's test clock, in the stream "clock-<user id>": the
// real time until first advanced, then frozen at the time advanced to.
type TestClock struct {
	UserID string
	Frozen bool
	Time   time.Time // when Frozen
}

// Apply folds one clock event into c.
func (c *TestClock) Apply(e Event) {
	if e, ok := e.(ClockAdvanced); ok {
		c.UserID, c.Frozen, c.Time = e.UserID, true, e.To.UTC()
	}
}

// Now is the clock's time when the real time is real.
func (c *TestClock) Now(real time.Time) time.Time {
	if c.Frozen {
		return c.Time
	}
	return real.UTC()
}

// Advance moves userID's clock, read at real, to to. It returns no events
// when to is the clock's now (an unfrozen clock stays unfrozen),
// ErrClockCannotGoBack for a time before it, and ErrValidation ("to") for
// a zero time or one more than MaxClockAdvance ahead.
func (c *TestClock) Advance(userID string, to, real time.Time) ([]Event, error) {
	now := c.Now(real)
	switch {
	case to.IsZero():
		return nil, Invalid("to", "to is required: an RFC 3339 time")
	case to.Before(now):
		return nil, refuse(ErrClockCannotGoBack, "to", "the clock is at %s; %s is before it", now.Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	case to.Sub(now) > MaxClockAdvance:
		return nil, Invalid("to", "a test clock advances at most 2 years in one call")
	case to.Equal(now):
		return nil, nil
	}
	return []Event{ClockAdvanced{UserID: userID, To: to.UTC()}}, nil
}
