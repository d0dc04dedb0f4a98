// Package seed writes a settled billing history straight into an event
// store: the catalog, users with a saved card, and orders placed and paid,
// as the service itself would have recorded them (same event types, ids and
// metadata). Benchmarks use it to measure the service on a log of a million
// orders without placing them one by one through HTTP first.
package seed

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Config describes the history to write.
type Config struct {
	// Orders is how many orders in all; HeavyOrders of them are HeavyUser's
	// (one user with a long history), the rest spread over Users users.
	Orders      int
	HeavyUser   string
	HeavyOrders int
	Users       int
	// Provider names the customers' provider (the sandbox: "sandbox").
	Provider string
	// Start is the first order's time; orders are a second apart per user.
	Start time.Time
	// Appenders is how many appends run at once. Default 64.
	Appenders int
	// Interleave spreads every user's orders over the whole history, as
	// users who order now and then do, in a fixed pseudo-random order;
	// each user's own orders still come in the order they were placed.
	// Otherwise the orders come user after user.
	Interleave bool
}

func (c *Config) defaults() error {
	switch {
	case c.Orders < c.HeavyOrders || c.HeavyOrders < 0:
		return fmt.Errorf("seed: %d orders cannot hold %d of the heavy user's", c.Orders, c.HeavyOrders)
	case c.Orders > c.HeavyOrders && c.Users < 1:
		return fmt.Errorf("seed: %d orders need users", c.Orders-c.HeavyOrders)
	case c.HeavyOrders > 0 && c.HeavyUser == "":
		return fmt.Errorf("seed: HeavyUser is required with HeavyOrders")
	}
	if c.Provider == "" {
		c.Provider = "sandbox"
	}
	if c.Appenders <= 0 {
		c.Appenders = 64
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return nil
}

// History writes the catalog (DefaultPlans), then for every user a wallet
// with one card, then the orders: each an order.placed and an order.paid
// of the first fixed-price plan, in one append to a new stream.
func History(ctx context.Context, store eventstore.Store, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	l := app.NewLog(store, func() time.Time { return cfg.Start })
	if _, err := app.SyncCatalog(ctx, l, domain.DefaultPlans(), app.Metadata{CorrelationID: "seed"}); err != nil {
		return err
	}
	plan, err := fixedPricePlan()
	if err != nil {
		return err
	}
	type job struct {
		user string
		n    int // the user's n-th order
	}
	jobs := make(chan job, cfg.Appenders)
	var (
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	for range cfg.Appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := order(ctx, l, cfg, plan, j.user, j.n); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	send := func(user string, n int) bool {
		select {
		case jobs <- job{user, n}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	users := usersOf(cfg)
	for _, u := range users {
		if err := wallet(ctx, l, cfg, u.id); err != nil {
			fail(err)
			break
		}
	}
	for u, n := range schedule(users, cfg.Interleave) {
		if !send(u, n) {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

type user struct {
	id     string
	orders int
}

// schedule yields the orders to write, as each one's user and its number
// among the user's orders: user after user, or interleaved (see
// Config.Interleave).
func schedule(users []user, interleave bool) iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		if !interleave {
			for _, u := range users {
				for n := range u.orders {
					if !yield(u.id, n) {
						return
					}
				}
			}
			return
		}
		var turns []int32 // an index into users per order
		for i, u := range users {
			for range u.orders {
				turns = append(turns, int32(i))
			}
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(turns), func(i, j int) { turns[i], turns[j] = turns[j], turns[i] })
		next := make([]int, len(users))
		for _, i := range turns {
			n := next[i]
			next[i]++
			if !yield(users[i].id, n) {
				return
			}
		}
	}
}

// usersOf spreads the orders: the heavy user's, then the rest evenly.
func usersOf(cfg Config) []user {
	var users []user
	if cfg.HeavyOrders > 0 {
		users = append(users, user{cfg.HeavyUser, cfg.HeavyOrders})
	}
	rest := cfg.Orders - cfg.HeavyOrders
	for i := range cfg.Users {
		n := rest / cfg.Users
		if i < rest%cfg.Users {
			n++
		}
		if n > 0 {
			users = append(users, user{fmt.Sprintf("seed-user-%d", i), n})
		}
	}
	return users
}

func fixedPricePlan() (domain.Plan, error) {
	for _, p := range domain.DefaultPlans() {
		if p.Type == domain.OneTime && p.CustomAmount == nil {
			return p, nil
		}
	}
	return domain.Plan{}, fmt.Errorf("seed: the default catalog has no fixed-price plan")
}

// CardOf is the card seeded into user's wallet.
func CardOf(user string) domain.PaymentMethodID {
	return domain.PaymentMethodIDFor(sessionOf(user))
}

func sessionOf(user string) domain.SetupSessionID {
	return domain.NewSetupSessionID(domain.EventIDFor(domain.PlacedEventID(domain.OrderIDFor(user, "seed-card")), "seed.session"))
}

// wallet records user's customer and one saved card.
func wallet(ctx context.Context, l *app.Log, cfg Config, userID string) error {
	w := domain.NewWallet(userID)
	session := sessionOf(userID)
	var events []domain.Event
	for _, decide := range []func() ([]domain.Event, error){
		func() ([]domain.Event, error) { return w.CreateCustomer(cfg.Provider, "cus_seed_"+userID, cfg.Start) },
		func() ([]domain.Event, error) {
			return w.StartCardSetup(domain.StartCardSetup{SessionID: session, ProviderSessionID: "cs_seed_" + userID,
				URL: "http://127.0.0.1/seed", ExpiresAt: cfg.Start.Add(time.Hour)}, cfg.Start)
		},
		func() ([]domain.Event, error) {
			return w.AttachCard(domain.AttachCard{SessionID: session, PaymentMethodID: CardOf(userID),
				ProviderPaymentMethodID: "pm_seed_" + userID, Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2099}, cfg.Start)
		},
	} {
		evs, err := decide()
		if err != nil {
			return fmt.Errorf("seed wallet of %s: %w", userID, err)
		}
		for _, e := range evs {
			w.Apply(e)
		}
		events = append(events, evs...)
	}
	_, err := l.Append(ctx, domain.WalletStream(userID), eventstore.NoStream, events, nil, app.Metadata{CorrelationID: "seed", UserID: userID})
	return err
}

// order records user's n-th order, placed and paid.
func order(ctx context.Context, l *app.Log, cfg Config, plan domain.Plan, userID string, n int) error {
	key := fmt.Sprintf("seed-%d", n)
	at := cfg.Start.Add(time.Duration(n) * time.Second)
	cmd := domain.PlaceOrder{UserID: userID, IdempotencyKey: key, PlanID: string(plan.ID), PaymentMethodID: string(CardOf(userID))}
	id := cmd.OrderID()
	placed := domain.OrderPlaced{
		OrderRef:        domain.OrderRef{OrderID: id, UserID: userID, PlanID: plan.ID, Amount: plan.Price.Amount, Currency: plan.Price.Currency},
		PaymentMethodID: CardOf(userID), IdempotencyKey: key, Fingerprint: cmd.Fingerprint(), PlacedAt: at,
	}
	first := domain.PlacedEventID(id)
	paid := domain.OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: "pi_seed_" + first.String(), PaidAt: at.Add(50 * time.Millisecond)}
	ids := []uuid.UUID{first, domain.EventIDFor(first, domain.EventOrderPaid)}
	_, err := l.Append(ctx, id.Stream(), eventstore.NoStream, []domain.Event{placed, paid}, ids,
		app.Metadata{CorrelationID: "seed-" + first.String(), UserID: userID, IdempotencyKey: key})
	if err != nil {
		return fmt.Errorf("seed order %d of %s: %w", n, userID, err)
	}
	return nil
}
