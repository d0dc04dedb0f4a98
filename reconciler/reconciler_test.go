package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/projections"
	"github.com/robotlabor/billing/reconciler"
)

// provider is an in-process payment provider that keeps, like a real one,
// each idempotency key's result: a repeated key moves no money. failNext
// makes the next calls fail with an unknown outcome.
type provider struct {
	mu       sync.Mutex
	results  map[string]any
	charges  int
	refunds  int
	cancels  int
	keys     map[string]int // calls per key
	failNext int
	refuse   map[string]bool // order (and provider subscription) ids the provider refuses as invalid
	made     map[string]any  // what the calls made, by order id (refunds by payment id)
	lookups  int
	declines bool // charges are declined (card_declined)
}

func newProvider() *provider {
	return &provider{results: map[string]any{}, keys: map[string]int{}, refuse: map[string]bool{}, made: map[string]any{}}
}

func (p *provider) Name() string { return "fake" }

func (p *provider) call(key string, do func() any) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[key]++
	if p.failNext > 0 {
		p.failNext--
		return nil, errors.New("provider timed out")
	}
	if r, ok := p.results[key]; ok {
		return r, nil
	}
	r := do()
	p.results[key] = r
	return r, nil
}

func (p *provider) Charge(_ context.Context, c payments.Charge) (payments.ChargeResult, error) {
	p.mu.Lock()
	refused := p.refuse[c.OrderID]
	p.mu.Unlock()
	if refused {
		return payments.ChargeResult{}, fmt.Errorf("bad request: %w", payments.ErrInvalidRequest)
	}
	r, err := p.call(c.IdempotencyKey, func() any {
		if p.declines {
			return payments.ChargeResult{Status: payments.Failed, FailureCode: "card_declined", FailureMessage: "declined"}
		}
		p.charges++
		res := payments.ChargeResult{Status: payments.Succeeded, ProviderPaymentID: fmt.Sprintf("pi_%d_%s", p.charges, c.IdempotencyKey)}
		p.made[c.OrderID] = res
		return res
	})
	if err != nil {
		return payments.ChargeResult{}, err
	}
	return r.(payments.ChargeResult), nil
}

func (p *provider) Refund(_ context.Context, rf payments.Refund) (payments.RefundResult, error) {
	r, err := p.call(rf.IdempotencyKey, func() any {
		p.refunds++
		res := payments.RefundResult{Status: payments.Succeeded, ProviderRefundID: "re_" + rf.IdempotencyKey}
		p.made[rf.ProviderPaymentID] = res
		return res
	})
	if err != nil {
		return payments.RefundResult{}, err
	}
	return r.(payments.RefundResult), nil
}

func (p *provider) StartSubscription(_ context.Context, s payments.StartSubscription) (payments.SubscriptionResult, error) {
	r, err := p.call(s.IdempotencyKey, func() any {
		p.charges++
		res := payments.SubscriptionResult{ProviderSubscriptionID: "sub_" + s.IdempotencyKey,
			FirstPayment: payments.ChargeResult{Status: payments.Succeeded, ProviderPaymentID: "pi_" + s.IdempotencyKey}}
		p.made[s.OrderID] = res
		return res
	})
	if err != nil {
		return payments.SubscriptionResult{}, err
	}
	return r.(payments.SubscriptionResult), nil
}

func (p *provider) CancelSubscription(_ context.Context, c payments.CancelSubscription) error {
	p.mu.Lock()
	refused := p.refuse[c.ProviderSubscriptionID]
	p.mu.Unlock()
	if refused {
		return fmt.Errorf("bad request: %w", payments.ErrInvalidRequest)
	}
	_, err := p.call(c.IdempotencyKey, func() any { p.cancels++; return true })
	return err
}

// find returns what the calls made for id, as a provider's records tell.
func (p *provider) find(id string) (any, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookups++
	v, ok := p.made[id]
	return v, ok
}

func (p *provider) FindSubscription(_ context.Context, f payments.FindPayment) (payments.SubscriptionResult, bool, error) {
	v, ok := p.find(f.OrderID)
	if !ok {
		return payments.SubscriptionResult{}, false, nil
	}
	return v.(payments.SubscriptionResult), true, nil
}

func (p *provider) distinctKeys() (keys, calls int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.keys {
		calls += n
	}
	return len(p.keys), calls
}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type fixture struct {
	log   *app.Log
	store eventstore.Store
	dir   string
	p     *provider
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l := app.NewLog(store, func() time.Time { return now })
	if _, err := app.SyncCatalog(context.Background(), l, domain.DefaultPlans(), app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	return &fixture{log: l, store: store, dir: dir, p: newProvider()}
}

// placeOrders records a saved card for user and n orders on it.
func (f *fixture) placeOrders(t *testing.T, user string, n int, plan string) []domain.OrderID {
	t.Helper()
	ctx := context.Background()
	session := domain.NewSetupSessionID(uuid.New())
	pm := domain.PaymentMethodIDFor(session)
	wallet := domain.NewWallet(user)
	var evs []domain.Event
	for _, decide := range []func() ([]domain.Event, error){
		func() ([]domain.Event, error) { return wallet.CreateCustomer("fake", "cus_1", now) },
		func() ([]domain.Event, error) {
			return wallet.StartCardSetup(domain.StartCardSetup{SessionID: session, ProviderSessionID: "x", URL: "http://x", ExpiresAt: now.Add(time.Hour)}, now)
		},
		func() ([]domain.Event, error) {
			return wallet.AttachCard(domain.AttachCard{SessionID: session, PaymentMethodID: pm, ProviderPaymentMethodID: "pm_fake", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034}, now)
		},
	} {
		e, err := decide()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range e {
			wallet.Apply(ev)
		}
		evs = append(evs, e...)
	}
	if _, err := f.log.Append(ctx, domain.WalletStream(user), eventstore.NoStream, evs, nil, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	svc := &app.Service{Log: f.log}
	var ids []domain.OrderID
	for i := range n {
		placed, err := svc.PlaceOrder(ctx, domain.PlaceOrder{UserID: user, IdempotencyKey: fmt.Sprint(i), PlanID: plan, PaymentMethodID: string(pm)}, app.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, placed.OrderID)
	}
	return ids
}

// recordAt reopens the fixture's store with a clock off by offset, so the
// events appended from now on are recorded that far from the real time, and
// returns it.
func (f *fixture) recordAt(t *testing.T, offset time.Duration) *sqlite.Store {
	t.Helper()
	f.store.Close()
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(f.dir, "events.db"),
		Now: func() time.Time { return time.Now().Add(offset) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store, f.log = store, app.NewLog(store, f.log.Now)
	return store
}

// run runs a reconciler with the given checkpoint file until every order is
// settled, then stops it.
func (f *fixture) run(t *testing.T, checkpoint string, orders []domain.OrderID) {
	t.Helper()
	f.runWith(t, checkpoint, f.p, orders)
}

func (f *fixture) runWith(t *testing.T, checkpoint string, p reconciler.Provider, orders []domain.OrderID) {
	t.Helper()
	f.runConfig(t, reconciler.Config{Provider: p, CheckpointPath: checkpoint}, orders)
}

// runObserved is run, telling observe each reaction's kind and outcome.
func (f *fixture) runObserved(t *testing.T, checkpoint string, orders []domain.OrderID, observe func(kind, outcome string)) {
	t.Helper()
	f.runConfig(t, reconciler.Config{Provider: f.p, CheckpointPath: checkpoint, Observe: observe}, orders)
}

// runConfig runs a reconciler of cfg (with the fixture's log, see start)
// until every order is settled.
func (f *fixture) runConfig(t *testing.T, cfg reconciler.Config, orders []domain.OrderID) {
	t.Helper()
	cfg.Log = f.log
	r, stop := f.start(t, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		head, _ := f.store.Head(context.Background())
		parked, _ := r.Parked(context.Background())
		if f.settled(t, orders) && r.Position() >= head && parked == 0 {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatal("orders never settled")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) settled(t *testing.T, orders []domain.OrderID) bool {
	for _, id := range orders {
		var o domain.Order
		if _, err := f.log.Load(context.Background(), id.Stream(), &o); err != nil {
			t.Fatal(err)
		}
		if o.Status == domain.OrderStatusPending || o.Status == domain.OrderStatusRefundPending {
			return false
		}
	}
	return true
}

func (f *fixture) count(t *testing.T, typ string) int {
	t.Helper()
	n := 0
	for pos := eventstore.Start; ; {
		evs, err := f.store.ReadAll(context.Background(), pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return n
		}
		for _, e := range evs {
			if e.Type == typ {
				n++
			}
		}
		pos = evs[len(evs)-1].Position
	}
}

func TestReplayingTheLogChargesNothingTwice(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 5, "plan_robot_hours_10")
	f.run(t, "first.db", orders)
	// A reconciler with no checkpoint handles the whole log again, as after
	// losing its checkpoint or on a second instance.
	f.run(t, "second.db", orders)
	if f.p.charges != 5 {
		t.Fatalf("provider charged %d times for 5 orders", f.p.charges)
	}
	if n := f.count(t, domain.EventOrderPaid); n != 5 {
		t.Fatalf("%d order.paid events for 5 orders", n)
	}
}

// TestReplayOfAJustPlacedOrderMovesNoMoney: an order placed a moment ago
// is charged without reading it first; replayed after it was paid and
// refunded, the charge asked again returns the first one (same key), and
// nothing is recorded, refunded or reported twice.
func TestReplayOfAJustPlacedOrderMovesNoMoney(t *testing.T) {
	f := setup(t)
	f.log = app.NewLog(f.store, time.Now) // placed now: charged without a read
	orders := f.placeOrders(t, "alice", 1, "plan_robot_hours_10")
	f.run(t, "first.db", orders)
	svc := &app.Service{Log: f.log}
	if _, err := svc.RequestRefund(context.Background(), "alice", orders[0], app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	f.run(t, "first.db", orders)
	var contradictions atomic.Int32
	f.runObserved(t, "second.db", orders, func(_, outcome string) {
		if outcome == "contradiction" {
			contradictions.Add(1)
		}
	})
	if f.p.charges != 1 || f.p.refunds != 1 {
		t.Fatalf("provider charged %d and refunded %d times, want once each", f.p.charges, f.p.refunds)
	}
	for _, typ := range []string{domain.EventOrderPaid, domain.EventOrderRefunded} {
		if n := f.count(t, typ); n != 1 {
			t.Fatalf("%d %s events, want 1", n, typ)
		}
	}
	if n := contradictions.Load(); n != 0 {
		t.Fatalf("the replay reported %d contradictions, want none", n)
	}
}

// TestAnOlderOrderIsReadBeforeItIsCharged: an order.placed recorded more
// than a minute ago (a reconciler catching up) is checked against the
// ledger first: a settled order is not asked about again, so nothing is
// sent under a key the provider may have forgotten.
func TestAnOlderOrderIsReadBeforeItIsCharged(t *testing.T) {
	f := setup(t)
	f.recordAt(t, -2*time.Hour)
	orders := f.placeOrders(t, "alice", 3, "plan_robot_hours_10")
	f.run(t, "first.db", orders)
	_, before := f.p.distinctKeys()
	f.run(t, "second.db", orders)
	if _, after := f.p.distinctKeys(); after != before {
		t.Fatalf("a replay of settled orders placed 2 hours ago made %d provider calls, want none", after-before)
	}
}

func TestUnknownOutcomesAreRetriedWithTheSameKey(t *testing.T) {
	f := setup(t)
	f.p.failNext = 7
	orders := f.placeOrders(t, "alice", 3, "plan_robot_hours_10")
	f.run(t, "cp.db", orders)
	keys, calls := f.p.distinctKeys()
	if keys != 3 || calls != 3+7 || f.p.charges != 3 {
		t.Fatalf("%d keys, %d calls, %d charges; want 3 keys (one per order), 10 calls, 3 charges", keys, calls, f.p.charges)
	}
}

func TestARefusedRequestDoesNotBlockTheOthers(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 3, "plan_robot_hours_10")
	f.p.refuse[string(orders[0])] = true
	f.run(t, "cp.db", orders[1:])
	var o domain.Order
	f.log.Load(context.Background(), orders[0].Stream(), &o)
	if o.Status != domain.OrderStatusPending || f.p.charges != 2 {
		t.Fatalf("refused order is %s with %d charges; want it left pending for an operator and the other two charged", o.Status, f.p.charges)
	}
}

func TestSubscriptionOrdersStartTheSubscriptionFirst(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
	f.run(t, "cp.db", orders)
	var o domain.Order
	f.log.Load(context.Background(), orders[0].Stream(), &o)
	var s domain.Subscription
	f.log.Load(context.Background(), o.SubscriptionID.Stream(), &s)
	if o.Status != domain.OrderStatusPaid || s.Status != domain.SubscriptionStatusActive || s.ProviderSubscriptionID == "" {
		t.Fatalf("order %s, subscription %s (provider id %q)", o.Status, s.Status, s.ProviderSubscriptionID)
	}
	started, paid := position(t, f, o.SubscriptionID.Stream(), domain.EventSubscriptionStarted), position(t, f, o.ID.Stream(), domain.EventOrderPaid)
	if started > paid {
		t.Fatalf("subscription.started at %d after order.paid at %d", started, paid)
	}
}

func position(t *testing.T, f *fixture, stream, typ string) eventstore.Position {
	t.Helper()
	evs, err := f.store.ReadStream(context.Background(), stream, eventstore.Forwards, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == typ {
			return e.Position
		}
	}
	t.Fatalf("no %s in %s", typ, stream)
	return 0
}

// cancelingProvider: the user cancels the subscription while its first
// payment is at the provider; the call either answers or times out after
// the provider charged.
type cancelingProvider struct {
	*provider
	f            *fixture
	timesOut     bool
	cancelFlakes int // provider cancellations that fail first (unknown outcome)
}

func (c *cancelingProvider) CancelSubscription(ctx context.Context, r payments.CancelSubscription) error {
	c.mu.Lock()
	flaky := c.cancelFlakes > 0
	if flaky {
		c.cancelFlakes--
	}
	c.mu.Unlock()
	if flaky {
		return errors.New("timed out")
	}
	return c.provider.CancelSubscription(ctx, r)
}

func (c *cancelingProvider) StartSubscription(ctx context.Context, s payments.StartSubscription) (payments.SubscriptionResult, error) {
	res, err := c.provider.StartSubscription(ctx, s)
	if c.f != nil {
		if _, cerr := (&app.Service{Log: c.f.log}).CancelSubscription(ctx, "alice", domain.SubscriptionID(s.SubscriptionID), app.Metadata{}); cerr != nil {
			return res, cerr
		}
		c.f = nil
		if c.timesOut {
			return payments.SubscriptionResult{}, errors.New("timed out after the provider charged")
		}
	}
	return res, err
}

// TestCancelDuringTheFirstPayment: a subscription canceled while its first
// payment went through keeps no money and does not bill again: the order
// is refunded and the provider's subscription ended.
func TestCancelDuringTheFirstPayment(t *testing.T) {
	for _, tc := range []struct {
		timesOut     bool
		cancelFlakes int
	}{{false, 0}, {true, 0}, {false, 5}} {
		t.Run(fmt.Sprintf("call times out: %v, cancel fails %d times", tc.timesOut, tc.cancelFlakes), func(t *testing.T) {
			f := setup(t)
			orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
			f.runWith(t, "cp.db", &cancelingProvider{provider: f.p, f: f, timesOut: tc.timesOut, cancelFlakes: tc.cancelFlakes}, orders)
			var o domain.Order
			f.log.Load(context.Background(), orders[0].Stream(), &o)
			var s domain.Subscription
			f.log.Load(context.Background(), o.SubscriptionID.Stream(), &s)
			if f.p.charges != 1 || f.p.refunds != 1 || f.p.cancels != 1 || o.Status != domain.OrderStatusRefunded || s.Status != domain.SubscriptionStatusCanceled {
				t.Fatalf("charges %d, refunds %d, provider cancels %d, order %s, subscription %s; want one of each, refunded, canceled",
					f.p.charges, f.p.refunds, f.p.cancels, o.Status, s.Status)
			}
		})
	}
}

// notFoundProvider has lost one order's customer.
type notFoundProvider struct {
	*provider
	order string
}

func (p *notFoundProvider) Charge(ctx context.Context, c payments.Charge) (payments.ChargeResult, error) {
	if c.OrderID == p.order {
		return payments.ChargeResult{}, fmt.Errorf("no such customer: %w", payments.ErrNotFound)
	}
	return p.provider.Charge(ctx, c)
}

func TestAnObjectTheProviderLostDoesNotBlockTheOthers(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 2, "plan_robot_hours_10")
	f.runWith(t, "cp.db", &notFoundProvider{provider: f.p, order: string(orders[0])}, orders[1:])
	if f.p.charges != 1 {
		t.Fatalf("%d charges, want the healthy order's one", f.p.charges)
	}
}

// limbo is the read models' lists of what is still in between, as the
// sweep sees them.
type limbo struct {
	orders        []domain.OrderID
	subscriptions []domain.SubscriptionID
}

func (l limbo) Unsettled(_ context.Context, after, _ time.Time, _ int) ([]projections.UnsettledOrder, error) {
	if !after.IsZero() {
		return nil, nil
	}
	out := make([]projections.UnsettledOrder, len(l.orders))
	for i, id := range l.orders {
		out[i] = projections.UnsettledOrder{ID: string(id), CreatedAt: now}
	}
	return out, nil
}

func (l limbo) UnconfirmedCancels(_ context.Context, after, _ time.Time, _ int) ([]projections.UnconfirmedCancel, error) {
	if !after.IsZero() {
		return nil, nil
	}
	out := make([]projections.UnconfirmedCancel, len(l.subscriptions))
	for i, id := range l.subscriptions {
		out[i] = projections.UnconfirmedCancel{ID: string(id), CanceledAt: now}
	}
	return out, nil
}

// sweeping runs a reconciler that sweeps l every few milliseconds until
// the test ends, once it has read the whole log.
func (f *fixture) sweeping(t *testing.T, l limbo) {
	t.Helper()
	r := f.background(t, reconciler.Config{Log: f.log, Provider: f.p, CheckpointPath: "sweep.db", Limbo: l,
		SweepEvery: 5 * time.Millisecond, SweepAfter: time.Nanosecond})
	head, _ := f.store.Head(context.Background())
	for deadline := time.Now().Add(10 * time.Second); r.Position() < head; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reconciler never read the log")
		}
	}
}

// background runs a reconciler of cfg (a checkpoint file in the fixture's
// dir, a silent logger, short retries) until the test ends.
func (f *fixture) background(t *testing.T, cfg reconciler.Config) *reconciler.Reconciler {
	t.Helper()
	r, stop := f.start(t, cfg)
	t.Cleanup(func() { stop() })
	return r
}

// start runs a reconciler of cfg (a checkpoint file of that name in the
// fixture's dir, a silent logger, short retries) until stop, which returns
// what Run did and closes it.
func (f *fixture) start(t *testing.T, cfg reconciler.Config) (r *reconciler.Reconciler, stop func() error) {
	t.Helper()
	cfg.CheckpointPath = filepath.Join(f.dir, cfg.CheckpointPath)
	cfg.Logger, cfg.RetryMin, cfg.RetryMax = slog.New(slog.NewTextHandler(io.Discard, nil)), time.Millisecond, 5*time.Millisecond
	r, err := reconciler.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() error {
		cancel()
		err := <-done
		r.Close()
		return err
	}
}

// eventually waits until cond holds, failing with what after 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

// TestTheSweepSettlesWhatFellThrough: an order the provider refused was
// dropped for an operator; once the cause is fixed, the sweep settles it.
func TestTheSweepSettlesWhatFellThrough(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 1, "plan_robot_hours_10")
	f.p.refuse[string(orders[0])] = true
	f.sweeping(t, limbo{orders: orders})
	if f.settled(t, orders) {
		t.Fatal("a refused order settled")
	}
	f.p.mu.Lock()
	delete(f.p.refuse, string(orders[0]))
	f.p.mu.Unlock()
	eventually(t, "the sweep never settled the order", func() bool { return f.settled(t, orders) })
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.charges != 1 {
		t.Fatalf("%d charges, want 1", f.p.charges)
	}
}

// TestTheSweepEndsARefusedCancellation: the provider refused to end a
// canceled subscription (dropped for an operator); once the cause is
// fixed, the sweep ends it there, so it does not go on billing.
func TestTheSweepEndsARefusedCancellation(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	orders := f.placeOrders(t, "alice", 1, "plan_fleet_monthly")
	f.run(t, "cp.db", orders)
	var o domain.Order
	f.log.Load(ctx, orders[0].Stream(), &o)
	var s domain.Subscription
	f.log.Load(ctx, o.SubscriptionID.Stream(), &s)
	f.p.refuse[s.ProviderSubscriptionID] = true
	if _, err := (&app.Service{Log: f.log}).CancelSubscription(ctx, "alice", o.SubscriptionID, app.Metadata{}); err != nil {
		t.Fatal(err)
	}
	f.sweeping(t, limbo{subscriptions: []domain.SubscriptionID{o.SubscriptionID}})
	ended := func() bool {
		var s domain.Subscription
		f.log.Load(ctx, o.SubscriptionID.Stream(), &s)
		return s.ProviderCanceled
	}
	if ended() {
		t.Fatal("a cancellation the provider refused is recorded as confirmed")
	}
	f.p.mu.Lock()
	delete(f.p.refuse, s.ProviderSubscriptionID)
	f.p.mu.Unlock()
	eventually(t, "the sweep never ended the subscription at the provider", ended)
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.cancels != 1 {
		t.Fatalf("%d provider cancels, want 1", f.p.cancels)
	}
}

// meeting is a provider whose first charge waits, for a while, until a
// second one is under way, and records whether one came.
type meeting struct {
	*provider
	arrived chan struct{} // holds the first caller's token
	met     chan struct{} // closed when a second caller came
	once    sync.Once
	joined  atomic.Bool // a second caller came while the first waited
}

func (m *meeting) Charge(ctx context.Context, c payments.Charge) (payments.ChargeResult, error) {
	select {
	case m.arrived <- struct{}{}:
		select {
		case <-m.met:
			m.joined.Store(true)
		case <-time.After(5 * time.Second): // a hang bound: the check below fails
		case <-ctx.Done():
			return payments.ChargeResult{}, ctx.Err()
		}
	default:
		m.once.Do(func() { close(m.met) })
	}
	return m.provider.Charge(ctx, c)
}

// TestOrdersAreChargedSideBySide: plain orders of a batch are handled
// concurrently (one lane per order), not one after another: a second
// charge starts while the first is under way. Each is still charged once.
func TestOrdersAreChargedSideBySide(t *testing.T) {
	f := setup(t)
	orders := f.placeOrders(t, "alice", 6, "plan_robot_hours_10")
	m := &meeting{provider: f.p, arrived: make(chan struct{}, 1), met: make(chan struct{})}
	f.runWith(t, "cp.db", m, orders)
	if !m.joined.Load() {
		t.Fatal("no charge started while the first was under way: orders were handled one at a time")
	}
	if f.p.charges != 6 {
		t.Fatalf("provider charged %d times for 6 orders", f.p.charges)
	}
	if n := f.count(t, domain.EventOrderPaid); n != 6 {
		t.Fatalf("%d order.paid events for 6 orders", n)
	}
}

// TestAnOrderStampedInTheFutureIsReadBeforeItIsCharged: an order.placed
// recorded by a clock far ahead of the reconciler's (a writer's clock
// wrong, an EventStoreDB node's) is not "just placed": a reconciler
// following the log again (a new instance, reconciler.db lost) reads it
// first and charges nothing, although the provider forgot its keys.
func TestAnOrderStampedInTheFutureIsReadBeforeItIsCharged(t *testing.T) {
	f := setup(t)
	f.recordAt(t, 48*time.Hour)
	orders := f.placeOrders(t, "alice", 3, "plan_robot_hours_10")
	f.run(t, "first.db", orders)
	if f.p.charges != 3 {
		t.Fatalf("setup: %d charges", f.p.charges)
	}
	// The provider forgets its keys (Stripe after 24 h), then a reconciler
	// follows the log from its start (fresh checkpoint file).
	f.p.mu.Lock()
	f.p.results = map[string]any{}
	f.p.mu.Unlock()
	f.run(t, "second.db", orders)
	if f.p.charges != 3 {
		t.Fatalf("settled orders were charged again: %d charges for 3 orders", f.p.charges)
	}
}

// recordingProvider records the PriceRef of every StartSubscription.
type recordingProvider struct {
	*provider
	mu   sync.Mutex
	refs []string
}

func (p *recordingProvider) StartSubscription(ctx context.Context, s payments.StartSubscription) (payments.SubscriptionResult, error) {
	p.mu.Lock()
	p.refs = append(p.refs, s.PriceRef)
	p.mu.Unlock()
	return p.provider.StartSubscription(ctx, s)
}

// TestAPlanJustPublishedElsewhereIsFound: a subscription ordered on
// instance A on a plan A has just published is started by instance B's
// reconciler, whose cached catalog does not have the plan yet, with the
// plan as published (its provider price), not an empty one.
func TestAPlanJustPublishedElsewhereIsFound(t *testing.T) {
	f := setup(t) // default plans, no provider price
	ctx := context.Background()
	b := app.NewLog(f.store, f.log.Now)                // instance B
	if _, err := app.LoadCatalog(ctx, b); err != nil { // B has the catalog cached
		t.Fatal(err)
	}
	plans := domain.DefaultPlans()
	for _, pl := range domain.DefaultPlans() {
		if pl.ID == "plan_fleet_monthly" {
			pl.ID, pl.ProviderPrice = "plan_fleet_v2", "price_fleet_v2"
			plans = append(plans, pl)
		}
	}
	if _, err := app.SyncCatalog(ctx, f.log, plans, app.Metadata{}); err != nil { // A publishes
		t.Fatal(err)
	}
	orders := f.placeOrders(t, "alice", 1, "plan_fleet_v2") // on A
	p := &recordingProvider{provider: f.p}
	f.log = b // B's reconciler
	f.runConfig(t, reconciler.Config{Provider: p, CheckpointPath: "b.db"}, orders)
	for _, ref := range p.refs {
		if ref != "price_fleet_v2" {
			t.Fatalf("subscription started with price ref %q, want price_fleet_v2 (the plan as published)", ref)
		}
	}
}

// TestAMigratedLogChargesNothingAgain: moving the log into another store
// (operations.md: replay the export into KurrentDB) records every event
// anew, and each instance then follows the log from its start. Orders
// settled two days before, whose keys the provider forgot, are read before
// anything is charged, though the log recorded them a moment ago.
func TestAMigratedLogChargesNothingAgain(t *testing.T) {
	f := setup(t)
	old := f.recordAt(t, -48*time.Hour)
	orders := f.placeOrders(t, "alice", 3, "plan_robot_hours_10")
	f.run(t, "first.db", orders)
	f.p.mu.Lock()
	f.p.results = map[string]any{} // two days later the provider forgot the keys
	f.p.mu.Unlock()
	f.run(t, "control.db", orders) // the same log, followed again: read first, nothing charged
	if f.p.charges != 3 {
		t.Fatalf("control: %d charges", f.p.charges)
	}
	// The migration: every event appended again, same ids, same order.
	ctx := context.Background()
	migrated, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { migrated.Close() })
	for from := eventstore.Start; ; {
		recs, err := old.ReadAll(ctx, from, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			exp := eventstore.NoStream
			if r.Revision > 0 {
				exp = eventstore.Exact(r.Revision - 1)
			}
			if _, err := migrated.Append(ctx, r.Stream, exp, eventstore.EventData{ID: r.ID, Type: r.Type, Data: r.Data, Metadata: r.Metadata}); err != nil {
				t.Fatal(err)
			}
			from = r.Position
		}
	}
	f.store, f.log = migrated, app.NewLog(migrated, f.log.Now)
	f.run(t, "after-migration.db", orders)
	if f.p.charges != 3 {
		t.Fatalf("after the migration, %d charges for 3 orders settled two days ago", f.p.charges)
	}
}

// gate is a provider whose charge of one order waits until released.
type gate struct {
	*provider
	order   string
	held    chan struct{} // closed once that charge is under way
	release chan struct{}
	once    sync.Once
}

func (g *gate) Charge(ctx context.Context, c payments.Charge) (payments.ChargeResult, error) {
	if c.OrderID == g.order {
		g.once.Do(func() { close(g.held) })
		select {
		case <-g.release:
		case <-ctx.Done():
			return payments.ChargeResult{}, ctx.Err()
		}
	}
	return g.provider.Charge(ctx, c)
}

// TestALaterOrderIsNotHeldUpByAnEarlierCharge: an order placed while the
// provider still works on an earlier one is charged without waiting for
// it, and the checkpoint does not pass the earlier order before it is
// settled: stopped then, a reconciler started again charges it, once.
func TestALaterOrderIsNotHeldUpByAnEarlierCharge(t *testing.T) {
	f := setup(t)
	first := f.placeOrders(t, "alice", 1, "plan_robot_hours_10")
	g := &gate{provider: f.p, order: string(first[0]), held: make(chan struct{}), release: make(chan struct{})}
	r, stop := f.start(t, reconciler.Config{Log: f.log, Provider: g, CheckpointPath: "cp.db"})
	select {
	case <-g.held:
	case <-time.After(10 * time.Second):
		stop()
		t.Fatal("the first order was never charged")
	}
	later := f.placeOrders(t, "bob", 1, "plan_robot_hours_10")
	eventually(t, "the later order waited for the earlier one's charge", func() bool { return f.settled(t, later) })
	placed := position(t, f, first[0].Stream(), domain.EventOrderPlaced)
	if p := r.Position(); p >= placed {
		stop()
		t.Fatalf("the checkpoint (%d) passed an order still being charged (%d)", p, placed)
	}
	if err := stop(); err != nil { // the held charge gives up: no money moved for it
		t.Fatal(err)
	}
	if f.settled(t, first) {
		t.Fatal("setup: the first order settled while its charge was held")
	}

	f.run(t, "cp.db", append(first, later...))
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if f.p.charges != 2 {
		t.Fatalf("provider charged %d times for 2 orders", f.p.charges)
	}
}

// barrierGate is a gate that records a subscription started while the
// held charge was still under way.
type barrierGate struct {
	*gate
	early atomic.Bool
}

func (b *barrierGate) StartSubscription(ctx context.Context, s payments.StartSubscription) (payments.SubscriptionResult, error) {
	select {
	case <-b.release:
	default:
		b.early.Store(true)
	}
	return b.gate.provider.StartSubscription(ctx, s)
}

// TestABarrierWaitsForTheEventsBeforeIt: a subscription order (a barrier)
// read while an earlier plain order is still being charged is handled
// only once that charge is done, as in log order.
func TestABarrierWaitsForTheEventsBeforeIt(t *testing.T) {
	f := setup(t)
	first := f.placeOrders(t, "alice", 1, "plan_robot_hours_10")
	g := &barrierGate{gate: &gate{provider: f.p, order: string(first[0]), held: make(chan struct{}), release: make(chan struct{})}}
	f.background(t, reconciler.Config{Log: f.log, Provider: g, CheckpointPath: "cp.db"})
	select {
	case <-g.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first order was never charged")
	}
	sub := f.placeOrders(t, "bob", 1, "plan_fleet_monthly")
	// A barrier handled out of order would start the subscription now;
	// give it the time to, then let the first charge finish.
	time.Sleep(300 * time.Millisecond)
	close(g.release)
	eventually(t, "the orders never settled", func() bool { return f.settled(t, append(first, sub...)) })
	if g.early.Load() {
		t.Fatal("the subscription order was handled while an order before it was still being charged")
	}
}
