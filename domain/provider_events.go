package domain

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// EventProviderEventReceived is news from the payment provider (a Stripe
// webhook event), recorded in the ledger once per provider event id before
// anything is done about it: the log then explains every outcome the
// provider reported, and a redelivered webhook is a no-op.
const EventProviderEventReceived = "provider.event_received"

// ProviderEventReceived carries the provider's event as it was sent.
type ProviderEventReceived struct {
	Provider           string          `json:"provider"`
	EventID            string          `json:"event_id"`
	Type               string          `json:"type"`
	Created            time.Time       `json:"created"`
	Object             json.RawMessage `json:"object"`
	PreviousAttributes json.RawMessage `json:"previous_attributes,omitempty"`
	ReceivedAt         time.Time       `json:"received_at"`
}

func (ProviderEventReceived) EventType() string { return EventProviderEventReceived }

// StreamID is one stream per provider event, so recording it is an append
// with no stream expected: the event store keeps it to once.
func (e ProviderEventReceived) StreamID() string { return ProviderEventStream(e.Provider, e.EventID) }

// ProviderEventStream is the stream of one provider event.
func ProviderEventStream(provider, eventID string) string {
	return "provider-" + provider + "-" + eventID
}

// ProviderEventLedgerID is the ledger event id of a provider's event.
func ProviderEventLedgerID(provider, eventID string) uuid.UUID {
	return uuid.NewSHA1(nsProviderEvent, []byte(provider+"\x00"+eventID))
}
