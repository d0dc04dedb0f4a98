package main

import (
	"context"
	"sync"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	bhttp "github.com/robotlabor/billing/http"
	"github.com/robotlabor/billing/projections"
)

// clocks serves the users' test clocks (sandbox only): it reads a clock
// from the log and runs an advance beside the request that asked for it,
// one at a time per user.
type clocks struct {
	m *Main

	mu        sync.Mutex
	running   map[string]*sync.Mutex // per user: advances run one after another
	advancing map[string]int         // per user: advances started and not done
}

func newClocks(m *Main) *clocks {
	return &clocks{m: m, running: map[string]*sync.Mutex{}, advancing: map[string]int{}}
}

// advanceTimeout bounds one advance run beside its request.
const advanceTimeout = 10 * time.Minute

func (c *clocks) Clock(ctx context.Context, userID string) (bhttp.TestClock, error) {
	clock, err := c.m.Log.Clock(ctx, userID)
	if err != nil {
		return bhttp.TestClock{}, err
	}
	c.mu.Lock()
	advancing := c.advancing[userID] > 0
	c.mu.Unlock()
	status := "ready"
	if advancing {
		status = "advancing"
	}
	return bhttp.TestClock{Now: clock.Now(c.m.Log.Now()), Frozen: clock.Frozen, Status: status}, nil
}

func (c *clocks) Advance(ctx context.Context, userID string, to time.Time, meta app.Metadata) (<-chan error, error) {
	clock, err := c.m.Log.Clock(ctx, userID)
	if err != nil {
		return nil, err
	}
	if _, err := clock.Advance(userID, to, c.m.Log.Now()); err != nil {
		return nil, err
	}
	subs, err := c.subscriptions(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.advancing[userID]++
	run, ok := c.running[userID]
	if !ok {
		run = &sync.Mutex{}
		c.running[userID] = run
	}
	c.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), advanceTimeout)
		defer cancel()
		run.Lock()
		err := c.advance(ctx, userID, to, subs, meta)
		run.Unlock()
		c.mu.Lock()
		c.advancing[userID]--
		if c.advancing[userID] == 0 {
			delete(c.advancing, userID)
		}
		c.mu.Unlock()
		done <- err
	}()
	return done, nil
}

// advance runs one advance and waits until the read models show all it
// recorded.
func (c *clocks) advance(ctx context.Context, userID string, to time.Time, subs []domain.SubscriptionID, meta app.Metadata) error {
	if err := c.m.Reconciler.Advance(ctx, userID, to, subs, meta); err != nil {
		return err
	}
	head, err := c.m.Store.Head(ctx)
	if err != nil {
		return err
	}
	return c.m.Projector.WaitFor(ctx, head)
}

// subscriptions lists the user's subscriptions, every page, including
// those of the writes already answered (the projector may not have
// committed them yet).
func (c *clocks) subscriptions(ctx context.Context, userID string) ([]domain.SubscriptionID, error) {
	if err := c.m.Projector.Sync(ctx); err != nil {
		return nil, err
	}
	var out []domain.SubscriptionID
	cursor := ""
	for {
		page, next, err := c.m.ReadModels.Subscriptions(ctx, userID, projections.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			if id, err := domain.ParseSubscriptionID(s.ID); err == nil {
				out = append(out, id)
			}
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}
