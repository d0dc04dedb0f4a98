package app_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/payments"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func newLog(t *testing.T) *app.Log {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return app.NewLog(s, func() time.Time { return now })
}

func TestSyncCatalogIsIdempotent(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	plans := domain.DefaultPlans()
	n, err := app.SyncCatalog(ctx, l, plans, app.Metadata{})
	if err != nil || n != len(plans) {
		t.Fatalf("first sync appended %d events, %v; want %d publications", n, err, len(plans))
	}
	if n, err := app.SyncCatalog(ctx, l, plans, app.Metadata{}); err != nil || n != 0 {
		t.Fatalf("second sync with the same plans appended %d events, %v; want none", n, err)
	}
	changed := plans[:len(plans)-1]
	changed[0].Name = "Renamed"
	if n, err := app.SyncCatalog(ctx, l, changed, app.Metadata{}); err != nil || n != 2 {
		t.Fatalf("sync with one change and one removal appended %d, %v; want 2", n, err)
	}
	c, err := app.LoadCatalog(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Plans(); len(got) != len(changed) {
		t.Fatalf("catalog has %d active plans, want %d", len(got), len(changed))
	}
	bad := []domain.Plan{{ID: "plan_x"}}
	if _, err := app.SyncCatalog(ctx, l, bad, app.Metadata{}); !errors.Is(err, domain.ErrValidation) {
		t.Fatalf("sync with an invalid plan: %v, want ErrValidation", err)
	}
}

// TestUpdateRetriesLostRaces: commands racing on one stream all land, each
// decided on the state its append kept.
func TestUpdateRetriesLostRaces(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	const user, racers = "user_1", 8
	stream := domain.WalletStream(user)
	var wg sync.WaitGroup
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := domain.StartCardSetup{
				SessionID:         domain.NewSetupSessionID(uuid.New()),
				ProviderSessionID: fmt.Sprintf("sandbox_%d", i),
				URL:               "http://127.0.0.1/setup",
				ExpiresAt:         now.Add(time.Hour),
			}
			_, _, err := app.Update(ctx, l, stream, func() *domain.Wallet { return domain.NewWallet(user) },
				func(w *domain.Wallet) ([]domain.Event, error) { return w.StartCardSetup(cmd, now) }, app.Metadata{UserID: user})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	evs, err := l.Store.ReadStream(ctx, stream, eventstore.Forwards, 0, 100)
	if err != nil || len(evs) != racers {
		t.Fatalf("wallet has %d events, %v; want %d", len(evs), err, racers)
	}
}

// placeOrder records a placed order for user_1 and returns its id.
func placeOrder(t *testing.T, l *app.Log) domain.OrderID {
	t.Helper()
	order := domain.OrderIDFor("user_1", "key-1")
	placed := domain.OrderPlaced{OrderRef: domain.OrderRef{OrderID: order, UserID: "user_1", PlanID: "plan_robot_hours_10", Amount: 4900, Currency: "usd"},
		PaymentMethodID: "pm_x", IdempotencyKey: "key-1", Fingerprint: "f", PlacedAt: now}
	if _, err := l.Append(context.Background(), order.Stream(), eventstore.NoStream, []domain.Event{placed}, []uuid.UUID{domain.PlacedEventID(order)}, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	return order
}

// TestCausedEventsAppendOnce: two handlers of the same cause (a reconciler
// replaying, or two instances) record its effect once.
func TestCausedEventsAppendOnce(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	if _, err := app.SyncCatalog(ctx, l, domain.DefaultPlans(), app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	order := placeOrder(t, l)
	meta := app.Metadata{CausationID: domain.PlacedEventID(order).String()}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := app.Update(ctx, l, order.Stream(), func() *domain.Order { return &domain.Order{} },
				func(o *domain.Order) ([]domain.Event, error) { return o.Pay("pi_1", now) }, meta)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var o domain.Order
	v, err := l.Load(ctx, order.Stream(), &o)
	if err != nil || v.Revision != 1 || o.Status != domain.OrderStatusPaid {
		t.Fatalf("order at revision %d status %s, %v; want one paid event (revision 1)", v.Revision, o.Status, err)
	}
}

// TestUpdateSkipsAnEffectAlreadyRecorded: a decision that repeats an
// effect of the same cause (derived ids the stream already holds) appends
// nothing and is no error, on any store; EventStoreDB would otherwise write
// the duplicate at the stream's head.
func TestUpdateSkipsAnEffectAlreadyRecorded(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	order := placeOrder(t, l)
	meta := app.Metadata{CausationID: domain.PlacedEventID(order).String()}
	newOrder := func() *domain.Order { return &domain.Order{} }
	paid, first, err := app.Update(ctx, l, order.Stream(), newOrder, func(o *domain.Order) ([]domain.Event, error) { return o.Pay("pi_1", now) }, meta)
	if err != nil || len(paid) != 1 {
		t.Fatalf("pay: %v, %v", paid, err)
	}
	again, res, err := app.Update(ctx, l, order.Stream(), newOrder, func(*domain.Order) ([]domain.Event, error) { return paid, nil }, meta)
	if err != nil || len(again) != 0 || res.Position != first.Position || res.Revision != first.Revision {
		t.Fatalf("repeating the effect = %v at %+v, %v; want nothing appended, the stream at %+v", again, res, err, first)
	}
	if evs, err := l.Store.ReadStream(ctx, order.Stream(), eventstore.Forwards, 0, 10); err != nil || len(evs) != 2 {
		t.Fatalf("order stream has %d events, %v; want 2", len(evs), err)
	}
}

func TestAppendRefusesEventsOfAnotherStream(t *testing.T) {
	l := newLog(t)
	ev := domain.PlanRetired{PlanID: "plan_x"}
	if _, err := l.Append(context.Background(), "wallet-u", eventstore.Any, []domain.Event{ev}, nil, app.Metadata{}); err == nil {
		t.Fatal("appending a catalog event to a wallet stream succeeded")
	}
}

// TestACardSavedInTimeIsAttachedWhenTheNewsIsLate: a setup session's
// expiry is judged when the card was saved, not when the provider's report
// arrived (a redelivery after the session expired).
func TestACardSavedInTimeIsAttachedWhenTheNewsIsLate(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	session := domain.NewSetupSessionID(uuid.New())
	start := domain.StartCardSetup{SessionID: session, ProviderSessionID: "cs_p", URL: "http://x", ExpiresAt: now.Add(time.Minute)}
	if _, _, err := app.Update(ctx, l, domain.WalletStream("u"), func() *domain.Wallet { return domain.NewWallet("u") },
		func(w *domain.Wallet) ([]domain.Event, error) { return w.StartCardSetup(start, now) }, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	late := app.NewLog(l.Store, func() time.Time { return now.Add(time.Hour) })
	svc := &app.Service{Log: late}
	completed := payments.SetupCompleted{SessionID: string(session), UserID: "u", CompletedAt: now.Add(30 * time.Second),
		Card: payments.Card{ProviderPaymentMethodID: "pm_p", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034}}
	if _, err := svc.AttachCard(ctx, completed, app.Metadata{}); err != nil {
		t.Fatalf("a card saved before the session expired, reported after: %v", err)
	}
	completed.SessionID = string(domain.NewSetupSessionID(uuid.New()))
	if _, err := svc.AttachCard(ctx, completed, app.Metadata{}); !errors.Is(err, domain.ErrSetupSessionNotFound) {
		t.Fatalf("an unknown session: %v", err)
	}
}

// TestCachedAggregatesFollowOtherInstances: the catalog and wallets are
// kept folded between commands, yet a plan or card another instance
// recorded a moment ago is found by a caller looking for it.
func TestCachedAggregatesFollowOtherInstances(t *testing.T) {
	a := newLog(t)
	b := app.NewLog(a.Store, a.Now) // a second instance on the same store
	ctx := context.Background()
	plans := domain.DefaultPlans()
	if _, err := app.SyncCatalog(ctx, a, plans[1:], app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if c, err := app.LoadCatalog(ctx, b); err != nil || len(c.Plans()) != len(plans)-1 {
		t.Fatalf("instance b's catalog: %v, %v", c, err)
	}
	if _, err := app.SyncCatalog(ctx, a, plans, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	hasPlan := func(c *domain.Catalog) bool { _, ok := c.Plan(plans[0].ID); return ok }
	if c, err := b.Catalog(ctx, hasPlan); err != nil || !hasPlan(c) {
		t.Fatalf("instance b does not find plan %s just published on a: %v", plans[0].ID, err)
	}

	const user = "user_1"
	if w, err := b.Wallet(ctx, user, nil); err != nil || len(w.Cards()) != 0 {
		t.Fatalf("a new user's wallet: %v, %v", w, err)
	}
	for i := range 2 {
		pm := attachCard(t, a, user)
		hasCard := func(w *domain.Wallet) bool { return w.HasCard(pm) }
		w, err := b.Wallet(ctx, user, hasCard)
		if err != nil || !hasCard(w) || len(w.Cards()) != i+1 {
			t.Fatalf("instance b's wallet after card %d was saved on a: %d cards, %v", i+1, len(w.Cards()), err)
		}
	}
}

// attachCard records a card setup and its completion in user's wallet and
// returns the card.
func attachCard(t *testing.T, l *app.Log, user string) domain.PaymentMethodID {
	t.Helper()
	ctx := context.Background()
	session := domain.NewSetupSessionID(uuid.New())
	stream := domain.WalletStream(user)
	newWallet := func() *domain.Wallet { return domain.NewWallet(user) }
	steps := []func(w *domain.Wallet) ([]domain.Event, error){
		func(w *domain.Wallet) ([]domain.Event, error) {
			return w.StartCardSetup(domain.StartCardSetup{SessionID: session, ProviderSessionID: "cs_" + string(session),
				URL: "http://127.0.0.1/setup", ExpiresAt: now.Add(time.Hour)}, now)
		},
		func(w *domain.Wallet) ([]domain.Event, error) {
			return w.AttachCard(domain.AttachCard{SessionID: session, PaymentMethodID: domain.PaymentMethodIDFor(session),
				ProviderPaymentMethodID: "pm_sbx", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030}, now)
		},
	}
	for _, step := range steps {
		if _, _, err := app.Update(ctx, l, stream, newWallet, step, app.Metadata{UserID: user}); err != nil {
			t.Fatal(err)
		}
	}
	return domain.PaymentMethodIDFor(session)
}

// TestOwnWritesAreSeenAtOnce: a card this instance removed is no longer in
// the wallet its next command reads, though the cached wallet is younger
// than the second another instance's change may take.
func TestOwnWritesAreSeenAtOnce(t *testing.T) {
	l := newLog(t)
	ctx := context.Background()
	const user = "user_1"
	pm := attachCard(t, l, user)
	if w, err := l.Wallet(ctx, user, nil); err != nil || !w.HasCard(pm) {
		t.Fatalf("the card just saved is not in the wallet: %v", err)
	}
	_, _, err := app.Update(ctx, l, domain.WalletStream(user), func() *domain.Wallet { return domain.NewWallet(user) },
		func(w *domain.Wallet) ([]domain.Event, error) { return w.DetachCard(pm, now) }, app.Metadata{UserID: user})
	if err != nil {
		t.Fatal(err)
	}
	if w, err := l.Wallet(ctx, user, nil); err != nil || w.HasCard(pm) {
		t.Fatalf("the card this instance removed is still in its wallet: %v", err)
	}
}
