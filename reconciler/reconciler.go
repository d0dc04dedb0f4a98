package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
	"golang.org/x/sync/errgroup"
)

// Provider is what the reconciler asks of the payment provider.
type Provider interface {
	Name() string
	Charge(ctx context.Context, req payments.Charge) (payments.ChargeResult, error)
	Refund(ctx context.Context, req payments.Refund) (payments.RefundResult, error)
	StartSubscription(ctx context.Context, req payments.StartSubscription) (payments.SubscriptionResult, error)
	CancelSubscription(ctx context.Context, req payments.CancelSubscription) error
	// FindSubscription reports what StartSubscription did for an order
	// (found false: nothing), without doing it.
	FindSubscription(ctx context.Context, f payments.FindPayment) (payments.SubscriptionResult, bool, error)
}

// Updater is a Provider that bills subscriptions by itself (Stripe): the
// ledger's cancellations at period end and card changes are passed on.
type Updater interface {
	UpdateSubscription(ctx context.Context, u payments.UpdateSubscription) error
}

// Forgetful is a Provider that forgets idempotency keys after KeyLifetime
// (Stripe: 24 hours), when a repeated call becomes a new one. Past it (less
// a margin), the reconciler asks what the first call did instead of
// calling again; a Provider without it remembers keys forever.
type Forgetful interface {
	KeyLifetime() time.Duration
	// Find… report what the provider has (found false: nothing), from
	// its records, not from a key; its subscriptions are found with
	// Provider.FindSubscription.
	FindCharge(ctx context.Context, f payments.FindPayment) (payments.ChargeResult, bool, error)
	FindRefund(ctx context.Context, f payments.FindRefund) (payments.RefundResult, bool, error)
}

// keyMargin is how long before a key's end the reconciler stops using it:
// clocks differ, and a call takes time.
const keyMargin = 4 * time.Hour

// forgetful returns the provider's lookups, and whether a call keyed by an
// event first recorded at first may no longer be known by its key.
func (r *Reconciler) forgetful(first time.Time) (Forgetful, bool) {
	f, ok := r.cfg.Provider.(Forgetful)
	if !ok {
		return nil, false
	}
	return f, time.Since(first) >= f.KeyLifetime()-keyMargin
}

// Config is what a Reconciler needs.
type Config struct {
	Log            *app.Log
	Provider       Provider
	CheckpointPath string // its own SQLite file
	Logger         *slog.Logger
	// RetryMin and RetryMax bound the backoff when the provider's answer
	// is unknown (timeouts, 5xx). Defaults 200ms and 30s.
	RetryMin, RetryMax time.Duration
	// Interpreter reads recorded provider events (webhooks); nil when the
	// provider sends none (the sandbox delivers completions directly).
	Interpreter Interpreter
	// Limbo, when set, lets the sweep find orders still in between; it
	// runs at start and every SweepEvery (default 1m) for orders placed
	// more than SweepAfter ago (default 2m).
	Limbo                  Limbo
	SweepEvery, SweepAfter time.Duration
	// Observe, when set, is told each handled reaction's kind and outcome
	// (for metrics): e.g. ("charge", "succeeded"), ("refund", "retry").
	Observe func(kind, outcome string)
	// Renewals, when set, lets the ledger bill renewals itself (for a
	// provider that does not, the sandbox): every RenewEvery (default
	// 10s) the subscriptions it lists as due are asked whether a charge is
	// due (subscription.renewal_due), which the reconciler then makes.
	// Declined, the charge is retried Dunning after the period end
	// (default 24h, 72h, 120h), then the subscription is canceled.
	Renewals   Renewals
	RenewEvery time.Duration
	Dunning    []time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.Log == nil:
		return errors.New("reconciler: Log is required")
	case c.Provider == nil:
		return errors.New("reconciler: Provider is required")
	case c.CheckpointPath == "":
		return errors.New("reconciler: CheckpointPath is required")
	case c.Logger == nil:
		return errors.New("reconciler: Logger is required")
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 30 * time.Second
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = time.Minute
	}
	if c.SweepAfter <= 0 {
		c.SweepAfter = 2 * time.Minute
	}
	if c.Observe == nil {
		c.Observe = func(string, string) {}
	}
	if c.RenewEvery <= 0 {
		c.RenewEvery = 10 * time.Second
	}
	if c.Dunning == nil {
		c.Dunning = DefaultDunning
	}
	return nil
}

// Reconciler follows the log and settles what it asks for at the provider.
type Reconciler struct {
	cfg Config
	cp  *checkpoints
	pos atomic.Uint64 // last position handled

	watchMu  sync.Mutex
	watchers map[domain.SubscriptionID]chan struct{} // advances waiting for a charge (see settledSubscription)
}

// Position is the position of the last event handled.
func (r *Reconciler) Position() eventstore.Position { return eventstore.Position(r.pos.Load()) }

// New opens the reconciler's checkpoint.
func New(ctx context.Context, cfg Config) (*Reconciler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cp, err := openCheckpoints(ctx, cfg.CheckpointPath)
	if err != nil {
		return nil, err
	}
	return &Reconciler{cfg: cfg, cp: cp}, nil
}

// Close releases the checkpoint file.
func (r *Reconciler) Close() error { return r.cp.close() }

// Run follows the log from the checkpoint until ctx ends (nil) or the
// checkpoint cannot be kept. Beside it, parked events are retried.
func (r *Reconciler) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.follow(ctx) })
	g.Go(func() error { return r.retryParked(ctx) })
	g.Go(func() error { return r.sweep(ctx) })
	g.Go(func() error { return r.schedule(ctx) })
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// follow handles the log as the log's order requires (see pipeline),
// and moves the checkpoint behind it. An event whose outcome stays unknown
// after a few quick tries is parked and retried beside, so that one
// unreachable answer never holds up every later order (nor the webhook
// that would settle it).
func (r *Reconciler) follow(ctx context.Context) error {
	from, err := r.cp.load(ctx)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	if err := eventstore.VerifyCheckpoint(ctx, r.cfg.Log.Store, from); err != nil {
		return fmt.Errorf("reconciler: %w: delete reconciler.db to follow the log from its start (every reaction is idempotent)", err)
	}
	r.pos.Store(uint64(from))
	sub, err := r.cfg.Log.Store.SubscribeAll(ctx, from)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runs := make(chan *batchRun, unsaved)
	saved := make(chan error, 1)
	go func() {
		err := r.saveInOrder(ctx, runs)
		if err != nil {
			cancel() // stop reading: the checkpoint cannot be kept
		}
		saved <- err
	}()
	p := newPipeline(r)
	err = r.dispatchAll(ctx, sub, p, runs)
	cancel()
	p.all.Wait()
	close(runs)
	if serr := <-saved; serr != nil {
		return fmt.Errorf("reconciler: %w", serr)
	}
	return err
}

// dispatchAll reads the log and hands each batch to p, and its run to
// the checkpoint's saver, until ctx ends (nil) or the log cannot be read.
func (r *Reconciler) dispatchAll(ctx context.Context, sub eventstore.Subscription, p *pipeline, runs chan<- *batchRun) error {
	for {
		batch, err := sub.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reconciler: %w", err)
		}
		select {
		case runs <- p.dispatch(ctx, batch):
		case <-ctx.Done():
			return nil
		}
	}
}

// tryTimeout bounds one quick try of an event.
const tryTimeout = 20 * time.Second

// quickTries is how often an event is tried before it is parked.
const quickTries = 3

// handleQuickly handles one event, retrying a few times with backoff
// while the outcome is unknown; it reports false when the event must be
// parked. A contradiction between the provider and the ledger, or a
// request the provider refuses as such, is logged and dropped: retrying
// cannot resolve it.
func (r *Reconciler) handleQuickly(ctx context.Context, rec eventstore.RecordedEvent) bool {
	wait := r.cfg.RetryMin
	for try := 1; ; try++ {
		// Each try is bounded: an unresponsive provider parks the event
		// instead of holding up the log (and the webhooks behind it).
		tctx, cancel := context.WithTimeout(ctx, tryTimeout)
		err := r.handle(tctx, rec)
		cancel()
		if err == nil {
			return true
		}
		if definite(err) {
			r.dropped(rec, err)
			return true
		}
		if ctx.Err() != nil {
			return false // stopping, not parking: nothing is saved for this batch
		}
		if try == quickTries {
			r.cfg.Logger.Warn("reconciler: outcome unknown, parked for retries", "event", rec.ID, "type", rec.Type, "stream", rec.Stream, "error", err)
			r.cfg.Observe(rec.Type, "parked")
			return false
		}
		r.cfg.Observe(rec.Type, "retry")
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(2*wait, r.cfg.RetryMax)
	}
}

func (r *Reconciler) dropped(rec eventstore.RecordedEvent, err error) {
	r.cfg.Logger.Error("reconciler: cannot be settled by retrying; dropped, needs an operator", "event", rec.ID, "type", rec.Type, "stream", rec.Stream, "error", err)
	r.cfg.Observe(rec.Type, "contradiction")
}

// retryParked retries parked events when due, with exponential backoff,
// the same idempotency keys, until each is settled.
func (r *Reconciler) retryParked(ctx context.Context) error {
	tick := time.NewTicker(max(r.cfg.RetryMin, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		due, err := r.cp.due(ctx, time.Now())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reconciler: parked events: %w", err)
		}
		for _, p := range due {
			if err := r.retryOne(ctx, p); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("reconciler: parked event at %d: %w", p.position, err)
			}
		}
	}
}

func (r *Reconciler) retryOne(ctx context.Context, p parkedEvent) error {
	rec, err := r.cfg.Log.ReadEvent(ctx, p.position)
	if errors.Is(err, eventstore.ErrEventNotFound) {
		return r.cp.unpark(ctx, p.position)
	}
	if err != nil {
		return err
	}
	// However long it stays unknown, a retry never acts twice: past the
	// provider's key lifetime it asks instead of calling (see forgetful).
	err = r.handle(ctx, rec)
	switch {
	case err == nil:
		r.cfg.Observe(rec.Type, "unparked")
		return r.cp.unpark(ctx, p.position)
	case definite(err):
		r.dropped(rec, err)
		return r.cp.unpark(ctx, p.position)
	}
	backoff := min(r.cfg.RetryMin<<min(p.attempts, 20), r.cfg.RetryMax)
	r.cfg.Logger.Warn("reconciler: parked event still unsettled", "event", rec.ID, "type", rec.Type, "attempts", p.attempts+1, "parked_at", p.since, "next_in", backoff, "error", err)
	return r.cp.retryLater(ctx, p.position, p.attempts+1, time.Now().Add(backoff))
}

// Parked is how many events wait for a retry (for metrics and tests).
func (r *Reconciler) Parked(ctx context.Context) (int, error) { return r.cp.parkedCount(ctx) }

// definite reports an error that retrying the same event cannot change:
// a contradiction with the ledger, a request the provider refuses or an
// object it does not have, an event the store refuses.
func definite(err error) bool {
	for _, kind := range []error{domain.ErrInvalidTransition, domain.ErrValidation, payments.ErrInvalidRequest,
		payments.ErrNotFound, eventstore.ErrInvalidAppend} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

func (r *Reconciler) handle(ctx context.Context, rec eventstore.RecordedEvent) error {
	if !acts(rec.Type) {
		return nil
	}
	e, err := domain.Decode(rec.Type, rec.Data)
	if err != nil {
		return fmt.Errorf("%w: %v", domain.ErrValidation, err)
	}
	meta := causedBy(rec)
	switch e := e.(type) {
	case domain.OrderPlaced:
		return r.orderPlaced(ctx, rec, e, meta)
	case domain.RefundRequested:
		return r.refundRequested(ctx, rec, e, meta)
	case domain.OrderRefunded:
		return r.orderRefunded(ctx, e, meta)
	case domain.SubscriptionCancelRequested:
		return r.cancelRequested(ctx, rec, e, meta)
	case domain.ProviderEventReceived:
		return r.providerEvent(ctx, e, meta)
	case domain.SubscriptionRenewalDue:
		return r.renewalDue(ctx, rec, e, meta)
	case domain.SubscriptionCardChanged:
		return r.cardChanged(ctx, rec, e, meta)
	case domain.CancelScheduled:
		return r.updateAtProvider(ctx, rec, e.SubscriptionID, func(u *payments.UpdateSubscription) { u.CancelAtPeriodEnd = ptr(true) })
	case domain.CancelUnscheduled:
		return r.updateAtProvider(ctx, rec, e.SubscriptionID, func(u *payments.UpdateSubscription) { u.CancelAtPeriodEnd = ptr(false) })
	}
	return nil
}

// acts reports whether the reconciler acts on events of type typ; it
// passes over all others (order.paid, half of the log, among them).
func acts(typ string) bool {
	switch typ {
	case domain.EventOrderPlaced, domain.EventRefundRequested, domain.EventOrderRefunded, domain.EventSubscriptionCancelRequested,
		domain.EventProviderEventReceived, domain.EventSubscriptionRenewalDue, domain.EventSubscriptionCardChanged,
		domain.EventCancelScheduled, domain.EventCancelUnscheduled:
		return true
	}
	return false
}

// causedBy is the metadata of events caused by rec: same correlation and
// user, rec as the cause (which also derives their ids).
func causedBy(rec eventstore.RecordedEvent) app.Metadata {
	m, _ := app.DecodeMetadata(rec.Metadata) // no metadata: no correlation to carry
	return app.Metadata{CorrelationID: m.CorrelationID, CausationID: rec.ID.String(), UserID: m.UserID}
}

func (r *Reconciler) now() time.Time { return r.cfg.Log.Now() }
