package projections

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// applyBatch folds events, in log order, into the read models of st and
// moves the checkpoint to the last of them, in one transaction: either the
// whole batch and its checkpoint are committed, or nothing is. Events at or
// below the stored checkpoint are skipped, so a batch delivered twice is
// applied once. The projector, Rebuild and Verify all fold through here.
func applyBatch(ctx context.Context, st *sqlitex.Stmts, events []eventstore.RecordedEvent) error {
	if len(events) == 0 {
		return nil
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	w := &writeTx{ctx: ctx, tx: st.Wrap(tx)}
	done, err := readCheckpoint(ctx, w.tx)
	if err != nil {
		return err
	}
	for _, rec := range events {
		if rec.Position <= done {
			continue
		}
		if err := applyEvent(w, rec); err != nil {
			return fmt.Errorf("apply %s event %s at position %d: %w", rec.Type, rec.ID, rec.Position, err)
		}
	}
	last := events[len(events)-1].Position
	if last <= done {
		return nil
	}
	if err := writeCheckpoint(w, last); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply batch up to position %d: %w", last, err)
	}
	w.tx.Done(ctx)
	return nil
}

// applyEvent folds one event. Types no read model shows (the catalog, the
// wallet's customers and setup sessions, types newer than this binary) are
// skipped: the checkpoint still moves past them. An event of a folded type
// that does not decode is an error, never skipped: a silently missing
// payment would be a wrong ledger view.
func applyEvent(w *writeTx, rec eventstore.RecordedEvent) error {
	switch rec.Type {
	case domain.EventCardAttached:
		return fold(rec, w.attachCard)
	case domain.EventCardDetached:
		return fold(rec, w.detachCard)
	case domain.EventOrderPlaced:
		return fold(rec, w.placeOrder)
	case domain.EventOrderPaid:
		return fold(rec, w.payOrder)
	case domain.EventOrderPaymentFailed:
		return fold(rec, w.failOrder)
	case domain.EventRefundRequested:
		return fold(rec, w.requestRefund)
	case domain.EventOrderRefunded:
		return fold(rec, w.refundOrder)
	case domain.EventRefundFailed:
		return fold(rec, w.failRefund)
	case domain.EventSubscriptionCreated:
		return fold(rec, w.createSubscription)
	case domain.EventSubscriptionStarted:
		return fold(rec, w.startSubscription)
	case domain.EventSubscriptionRenewed:
		return fold(rec, w.renewSubscription)
	case domain.EventSubscriptionPastDue:
		return fold(rec, w.markPastDue)
	case domain.EventSubscriptionCancelRequested:
		return fold(rec, w.requestCancel)
	case domain.EventSubscriptionCanceled:
		return fold(rec, w.cancelSubscription)
	}
	return nil
}

// fold decodes rec as an E and applies it.
func fold[E domain.Event](rec eventstore.RecordedEvent, apply func(E) error) error {
	e, err := domain.Decode(rec.Type, rec.Data)
	if err != nil {
		return err
	}
	typed, ok := e.(E)
	if !ok {
		return fmt.Errorf("decoded as %T", e)
	}
	return apply(typed)
}

// writeTx is one batch's transaction, with its statements prepared once
// for the database (see sqlitex.Tx).
type writeTx struct {
	ctx context.Context
	tx  *sqlitex.Tx
}

func (w *writeTx) exec(query string, args ...any) (sql.Result, error) {
	return w.tx.ExecContext(w.ctx, query, args...)
}
