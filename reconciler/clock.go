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
	var next time.Time
	var which domain.SubscriptionID
	for _, id := range subs {
		s, err := r.settledSubscription(ctx, id)
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

// settledSubscription loads subscription id once no charge of it is in
// flight: it waits for this reconciler to tell it handled one (or, should
// another instance handle it, looks again every settleCheck).
func (r *Reconciler) settledSubscription(ctx context.Context, id domain.SubscriptionID) (*domain.Subscription, error) {
	handle := app.Subscriptions(r.cfg.Log)
	for {
		handled := r.watch(id)
		s, err := handle.Load(ctx, id)
		if err != nil || !s.ChargeInFlight() {
			r.unwatch(id, handled)
			return s, err
		}
		t := time.NewTimer(settleCheck)
		select {
		case <-ctx.Done():
			t.Stop()
			r.unwatch(id, handled)
			return nil, ctx.Err()
		case <-handled:
		case <-t.C:
			r.unwatch(id, handled)
		}
		t.Stop()
	}
}

// settleCheck is how often a wait for a charge looks at the log itself.
const settleCheck = 100 * time.Millisecond

// watch returns a channel closed when this reconciler next finishes
// handling a charge of subscription id.
func (r *Reconciler) watch(id domain.SubscriptionID) chan struct{} {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watchers == nil {
		r.watchers = map[domain.SubscriptionID]chan struct{}{}
	}
	ch, ok := r.watchers[id]
	if !ok {
		ch = make(chan struct{})
		r.watchers[id] = ch
	}
	return ch
}

// unwatch drops ch when no charge closed it (shared by every waiter of
// id: dropping it only makes the next watch make another).
func (r *Reconciler) unwatch(id domain.SubscriptionID, ch chan struct{}) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watchers[id] == ch {
		delete(r.watchers, id)
	}
}

// handled tells the waiters of subscription id that a charge of it was
// handled.
func (r *Reconciler) handled(id domain.SubscriptionID) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if ch, ok := r.watchers[id]; ok {
		close(ch)
		delete(r.watchers, id)
	}
}
