package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/jsonx"
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

// Encode returns the message body of an event: Message's JSON, with the
// event's data and metadata as stored (JSON the service wrote compactly),
// not escaped for HTML. It is built by appending, not by reflection, since
// every event of the log passes here on its way to NATS and to exports;
// a body or metadata that is not JSON is an error.
func Encode(e eventstore.RecordedEvent) ([]byte, error) {
	data, meta := e.Data, e.Metadata
	if len(data) == 0 {
		data = emptyObject
	}
	if len(meta) == 0 {
		meta = emptyObject
	}
	var err error
	if data, err = oneLine(data); err != nil {
		return nil, fmt.Errorf("encode event %s: data: %w", e.ID, err)
	}
	if meta, err = oneLine(meta); err != nil {
		return nil, fmt.Errorf("encode event %s: metadata: %w", e.ID, err)
	}
	b := make([]byte, 0, 160+len(e.Stream)+len(e.Type)+len(data)+len(meta))
	b = append(b, `{"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","type":`...)
	b = jsonx.AppendString(b, e.Type)
	b = append(b, `,"stream":`...)
	b = jsonx.AppendString(b, e.Stream)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"position":`...)
	b = strconv.AppendUint(b, uint64(e.Position), 10)
	b = append(b, `,"recorded_at":`...)
	b = jsonx.AppendTime(b, e.RecordedAt.UTC())
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, `,"metadata":`...)
	b = append(b, meta...)
	return append(b, '}'), nil
}

// oneLine checks that raw is JSON and returns it fit for one NDJSON line:
// as it is when it has no line breaks (the service writes compact JSON),
// else compacted.
func oneLine(raw []byte) ([]byte, error) {
	if !jsonx.PlainObject(raw) && !json.Valid(raw) {
		return nil, fmt.Errorf("not JSON")
	}
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 { // two vector scans, faster than ContainsAny
		return bytes.TrimSpace(raw), nil
	}
	var b bytes.Buffer
	err := json.Compact(&b, raw)
	return b.Bytes(), err
}

var emptyObject = []byte(`{}`)

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
