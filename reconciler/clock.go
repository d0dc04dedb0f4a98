package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
)

// Advance moves userID's test clock to to, handling in time order every
// renewal and retry of subs (the user's subscriptions) that falls due on
// the way: the clock is advanced to each due time, the charge is recorded
// due there (subscription.renewal_due), and Advance waits until its outcome
// is recorded before it looks for the next, since a renewal moves the
// period on. It returns once the clock is at to with everything due up to
// it handled, the domain's refusal of to (ErrClockCannotGoBack, a time
// too far ahead), or ctx's error (what is recorded stays: advancing again
// goes on from there).
func (r *Reconciler) Advance(ctx context.Context, userID string, to time.Time, subs []domain.SubscriptionID, meta app.Metadata) error {
	clock, err := r.cfg.Log.Clock(ctx, userID)
	if err != nil {
		return err
	}
	if _, err := clock.Advance(userID, to, r.cfg.Log.Now()); err != nil {
		return err // refused before anything moves
	}
	handle := app.Subscriptions(r.cfg.Log)
	for {
		next, sub, err := r.nextCharge(ctx, subs, to)
		if err != nil || sub == "" {
			if err != nil {
				return err
			}
			return app.AdvanceClock(ctx, r.cfg.Log, userID, to, meta)
		}
		// Due at next, or earlier (overdue at the clock's now already).
		now, err := r.cfg.Log.UserNow(ctx, userID)
		if err != nil {
			return err
		}
		if next.After(now) {
			if err := app.AdvanceClock(ctx, r.cfg.Log, userID, next, meta); err != nil {
				return err
			}
			now = next
		}
		if _, err := handle.Decide(ctx, sub, meta, func(s *domain.Subscription) ([]domain.Event, error) {
			return s.DueRenewal(now, r.cfg.Dunning)
		}); err != nil {
			return err
		}
	}
}

// nextCharge is the earliest charge of subs due at or before to, once no
// attempt of theirs is in flight (it waits for those); sub is empty when
// none is due.
func (r *Reconciler) nextCharge(ctx context.Context, subs []domain.SubscriptionID, to time.Time) (time.Time, domain.SubscriptionID, error) {
	handle := app.Subscriptions(r.cfg.Log)
	var next time.Time
	var which domain.SubscriptionID
	for _, id := range subs {
		s, err := handle.Load(ctx, id)
		for err == nil && s.ChargeInFlight() {
			if err = sleep(ctx, 2*time.Millisecond); err == nil {
				s, err = handle.Load(ctx, id)
			}
		}
		if err != nil {
			return time.Time{}, "", fmt.Errorf("advance: %s: %w", id, err)
		}
		due, _, ok := s.NextCharge(r.cfg.Dunning)
		if ok && !due.After(to) && (which == "" || due.Before(next)) {
			next, which = due, id
		}
	}
	return next, which, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
