package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Placed is the outcome of PlaceOrder.
type Placed struct {
	OrderID domain.OrderID
	// Position is where the order's events are in the log: read models
	// that reached it show the order.
	Position eventstore.Position
	// Replayed: the key had placed this order before (or a concurrent
	// request with the same key did); nothing new was placed.
	Replayed bool
}

// PlaceOrder places the order cmd describes, exactly once per (user,
// idempotency key). The key maps to the order's stream and first event id,
// and the event store's idempotent append keeps one order per key across
// concurrent requests, retries and restarts; the request's fingerprint on
// the first event tells a replay from a key reused with another body.
//
// It returns the domain's refusals (ErrValidation, ErrPlanNotFound,
// ErrAmountNotAllowed, ErrAmountOutOfRange, ErrPaymentMethodNotFound) and
// ErrIdempotencyKeyReused.
func (s *Service) PlaceOrder(ctx context.Context, cmd domain.PlaceOrder, meta Metadata) (Placed, error) {
	id := cmd.OrderID()
	// A plan or card not found in the cached states is looked up in the
	// log before the order is refused.
	catalog, err := s.Log.Catalog(ctx, func(c *domain.Catalog) bool {
		_, ok := c.Plan(domain.PlanID(cmd.PlanID))
		return ok
	})
	if err != nil {
		return Placed{}, err
	}
	wallet, err := s.Log.Wallet(ctx, cmd.UserID, func(w *domain.Wallet) bool {
		return w.HasCard(domain.PaymentMethodID(cmd.PaymentMethodID))
	})
	if err != nil {
		return Placed{}, err
	}
	now, err := s.Log.UserNow(ctx, cmd.UserID) // the order's created_at follows the user's test clock
	if err != nil {
		return Placed{}, err
	}
	events, err := cmd.Decide(catalog, wallet, now)
	if err != nil {
		// A replay is answered with the order it placed even when the
		// same request would be refused now (its card removed since, its
		// plan retired), and a key reused with another body is told so.
		if placed, found, lookupErr := s.placedBefore(ctx, cmd, ""); lookupErr != nil || found {
			return placed, lookupErr
		}
		return Placed{}, err
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = uuid.NewString()
	}
	meta.UserID, meta.IdempotencyKey = cmd.UserID, cmd.IdempotencyKey
	ids := domain.DecidedEventIDs(domain.PlacedEventID(id), events)
	res, err := s.Log.Append(ctx, id.Stream(), eventstore.NoStream, events[:1], ids[:1], meta)
	if err != nil && !errors.Is(err, eventstore.ErrConflict) {
		return Placed{}, fmt.Errorf("place order %s: %w", id, err)
	}
	// The append succeeds for whichever request wrote the first event and
	// for its idempotent repeats alike (a replay, or a key reused with
	// another body: the same ids): unless the store says this call wrote
	// it, the first event's correlation id tells which one this request
	// is, its fingerprint which of the other two.
	if !res.Written {
		if placed, found, err := s.placedBefore(ctx, cmd, meta.CorrelationID); err != nil || found {
			return placed, err
		}
	}
	pos := res.Position
	for i, e := range events[1:] {
		// subscription.created: its own stream; the reconciler also ensures
		// it, should this process stop right here.
		r, err := s.Log.Append(ctx, e.StreamID(), eventstore.NoStream, []domain.Event{e}, ids[i+1:i+2], meta)
		if err != nil && !errors.Is(err, eventstore.ErrConflict) {
			return Placed{}, fmt.Errorf("place order %s: %w", id, err)
		}
		pos = max(pos, r.Position)
	}
	return Placed{OrderID: id, Position: pos}, nil
}

// placedBefore looks for the order of cmd's key. Found and written by
// another request than correlationID, it is a replay when the fingerprints
// match and ErrIdempotencyKeyReused otherwise.
func (s *Service) placedBefore(ctx context.Context, cmd domain.PlaceOrder, correlationID string) (Placed, bool, error) {
	id := cmd.OrderID()
	recs, err := s.Log.Store.ReadStream(ctx, id.Stream(), eventstore.Forwards, 0, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return Placed{}, false, nil
	}
	if err != nil {
		return Placed{}, false, fmt.Errorf("look up order %s: %w", id, err)
	}
	first := recs[0]
	e, err := domain.Decode(first.Type, first.Data)
	if err != nil {
		return Placed{}, false, err
	}
	placed, ok := e.(domain.OrderPlaced)
	if !ok {
		return Placed{}, false, fmt.Errorf("order %s starts with %s", id, first.Type)
	}
	meta, _ := DecodeMetadata(first.Metadata) // absent metadata: not ours
	if correlationID != "" && meta.CorrelationID == correlationID {
		return Placed{}, false, nil
	}
	if placed.Fingerprint != cmd.Fingerprint() {
		return Placed{}, true, ErrIdempotencyKeyReused
	}
	return Placed{OrderID: id, Position: first.Position, Replayed: true}, true, nil
}

// RequestRefund asks for the full refund of the user's order and returns
// where the request landed in the log. It returns ErrNotFound for an order
// that is not the user's, and domain.ErrOrderNotRefundable.
func (s *Service) RequestRefund(ctx context.Context, userID string, id domain.OrderID, meta Metadata) (eventstore.Position, error) {
	now := s.Log.Now()
	res, err := Orders(s.Log).DecideOwned(ctx, userID, id, meta, func(o *domain.Order) ([]domain.Event, error) { return o.RequestRefund(now) })
	return res.Position, err
}
