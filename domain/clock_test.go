package domain_test

import (
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

func TestTestClockAdvance(t *testing.T) {
	real := feb15
	advanced := func(to time.Time) *domain.TestClock {
		c := &domain.TestClock{}
		c.Apply(domain.ClockAdvanced{UserID: alice, To: to})
		return c
	}
	for _, tc := range []struct {
		name    string
		clock   *domain.TestClock
		to      time.Time
		want    []domain.Event
		wantErr error
	}{
		{"ahead of the real time", &domain.TestClock{}, mar15, events(domain.ClockAdvanced{UserID: alice, To: mar15}), nil},
		{"to the real time: nothing, still unfrozen", &domain.TestClock{}, real, nil, nil},
		{"frozen, further", advanced(mar15), mar15.Add(time.Hour), events(domain.ClockAdvanced{UserID: alice, To: mar15.Add(time.Hour)}), nil},
		{"frozen, to its now: nothing", advanced(mar15), mar15, nil, nil},
		{"frozen, back", advanced(mar15), mar15.Add(-time.Second), nil, domain.ErrClockCannotGoBack},
		{"before the real time", &domain.TestClock{}, real.Add(-time.Hour), nil, domain.ErrClockCannotGoBack},
		{"more than 2 years at once", &domain.TestClock{}, real.AddDate(2, 1, 0), nil, invalid("to")},
		{"no time", &domain.TestClock{}, time.Time{}, nil, invalid("to")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.clock.Advance(alice, tc.to, real)
			then(t, got, err, tc.want, tc.wantErr)
		})
	}
	c := advanced(mar15)
	if !c.Now(real).Equal(mar15) || !(&domain.TestClock{}).Now(real).Equal(real) {
		t.Error("a frozen clock reads its time, an unfrozen one the real time")
	}
}
