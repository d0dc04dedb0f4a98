package app

import (
	"context"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// RecordProviderEvent writes news from the payment provider into the
// ledger, once per provider event id: its stream is its own, appended with
// no stream expected and an id derived from the provider's, so a
// redelivered webhook is an idempotent no-op. When it returns nil the event
// is durable; the reconciler acts on it as it follows the log.
func RecordProviderEvent(ctx context.Context, l *Log, ev payments.ProviderEvent) error {
	e := domain.ProviderEventReceived{
		Provider: ev.Provider, EventID: ev.ID, Type: ev.Type, Created: ev.Created.UTC(),
		Object: ev.Object, PreviousAttributes: ev.PreviousAttributes, ReceivedAt: l.Now().UTC(),
	}
	id := domain.ProviderEventLedgerID(ev.Provider, ev.ID)
	_, err := l.Append(ctx, e.StreamID(), eventstore.NoStream, []domain.Event{e}, []uuid.UUID{id}, Metadata{CorrelationID: ev.ID})
	return err
}
