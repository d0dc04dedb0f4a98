package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// Provider is what the reconciler asks of the payment provider.
type Provider interface {
	Name() string
	Charge(ctx context.Context, req payments.Charge) (payments.ChargeResult, error)
	Refund(ctx context.Context, req payments.Refund) (payments.RefundResult, error)
	StartSubscription(ctx context.Context, req payments.StartSubscription) (payments.SubscriptionResult, error)
	CancelSubscription(ctx context.Context, req payments.CancelSubscription) error
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
	// Observe, when set, is told each handled reaction's kind and outcome
	// (for metrics): e.g. ("charge", "succeeded"), ("refund", "retry").
	Observe func(kind, outcome string)
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
	if c.Observe == nil {
		c.Observe = func(string, string) {}
	}
	return nil
}

// Reconciler follows the log and settles what it asks for at the provider.
type Reconciler struct {
	cfg Config
	cp  *checkpoints
	pos atomic.Uint64 // last position handled
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

// Run follows the log from the checkpoint until ctx ends (nil) or a
// reaction fails for a reason retrying cannot fix.
func (r *Reconciler) Run(ctx context.Context) error {
	from, err := r.cp.load(ctx)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	r.pos.Store(uint64(from))
	sub, err := r.cfg.Log.Store.SubscribeAll(ctx, from)
	if err != nil {
		return fmt.Errorf("reconciler: %w", err)
	}
	defer sub.Close()
	for {
		batch, err := sub.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reconciler: %w", err)
		}
		for _, rec := range batch {
			if err := r.handleWithRetry(ctx, rec); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		last := batch[len(batch)-1].Position
		if err := r.cp.save(ctx, last); err != nil && ctx.Err() == nil {
			return fmt.Errorf("reconciler: save checkpoint: %w", err)
		}
		r.pos.Store(uint64(last))
	}
}

// handleWithRetry handles one event, retrying with backoff while the
// outcome is unknown. A contradiction between the provider and the ledger,
// or a request the provider refuses as such, is logged and skipped:
// retrying cannot resolve it, and it must not stop every other order.
func (r *Reconciler) handleWithRetry(ctx context.Context, rec eventstore.RecordedEvent) error {
	wait := r.cfg.RetryMin
	for {
		err := r.handle(ctx, rec)
		if err == nil {
			return nil
		}
		if errors.Is(err, domain.ErrInvalidTransition) || errors.Is(err, domain.ErrValidation) || errors.Is(err, payments.ErrInvalidRequest) {
			r.cfg.Logger.Error("reconciler: cannot be settled by retrying; skipped, needs an operator", "event", rec.ID, "type", rec.Type, "stream", rec.Stream, "error", err)
			r.cfg.Observe(rec.Type, "contradiction")
			return nil
		}
		r.cfg.Logger.Warn("reconciler: will retry", "event", rec.ID, "type", rec.Type, "stream", rec.Stream, "in", wait, "error", err)
		r.cfg.Observe(rec.Type, "retry")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, r.cfg.RetryMax)
	}
}

func (r *Reconciler) handle(ctx context.Context, rec eventstore.RecordedEvent) error {
	switch rec.Type {
	case domain.EventOrderPlaced, domain.EventRefundRequested, domain.EventOrderRefunded, domain.EventSubscriptionCancelRequested:
	default:
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
	}
	return nil
}

// causedBy is the metadata of events caused by rec: same correlation and
// user, rec as the cause (which also derives their ids).
func causedBy(rec eventstore.RecordedEvent) app.Metadata {
	var m app.Metadata
	_ = json.Unmarshal(rec.Metadata, &m) // no metadata: no correlation to carry
	return app.Metadata{CorrelationID: m.CorrelationID, CausationID: rec.ID.String(), UserID: m.UserID}
}

func (r *Reconciler) now() time.Time { return r.cfg.Log.Now() }
