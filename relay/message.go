package relay

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// Message is the JSON of an event on NATS and in `billing events export`:
// the contract for consumers (docs/events.md). Never remove or change the
// meaning of a field.
type Message struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Stream     string          `json:"stream"`
	Revision   uint64          `json:"revision"`
	Position   uint64          `json:"position"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
}

// Subject is the NATS subject of an event type: billing.order.paid.
func Subject(eventType string) string { return "billing." + eventType }

// Encode returns the message body of an event.
func Encode(e eventstore.RecordedEvent) ([]byte, error) {
	meta := json.RawMessage(e.Metadata)
	if len(meta) == 0 {
		meta = json.RawMessage(`{}`)
	}
	data := json.RawMessage(e.Data)
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	b, err := json.Marshal(Message{
		ID: e.ID.String(), Type: e.Type, Stream: e.Stream, Revision: e.Revision,
		Position: uint64(e.Position), RecordedAt: e.RecordedAt.UTC(), Data: data, Metadata: meta,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// positionOf reads the log position out of a message body.
func positionOf(body []byte) (eventstore.Position, error) {
	var m struct {
		Position *uint64 `json:"position"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Position == nil {
		return 0, fmt.Errorf("message has no log position: %v", err)
	}
	return eventstore.Position(*m.Position), nil
}
