package audit

import (
	"testing"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// BenchmarkHash is the cost of one event's hash, as verify and every
// append pay it: go test -bench Hash -benchmem ./audit
func BenchmarkHash(b *testing.B) {
	e := benchEvent
	var h hasher
	b.SetBytes(int64(len(e.Data) + len(e.Metadata)))
	for b.Loop() {
		if _, _, err := h.sum(&e, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChain is what an append of one event pays to link it to its
// stream: go test -bench Chain -benchmem ./audit
func BenchmarkChain(b *testing.B) {
	e := eventstore.EventData{ID: benchEvent.ID, Type: benchEvent.Type, Data: benchEvent.Data,
		Metadata: []byte(`{"correlation_id":"req_eb9c390a75a8ce1f2d9f0cbb","idempotency_key":"first-pack","user_id":"user_42"}`)}
	prev := "f41ab790dfcd89a423adb58052b09cca0067d9782dbe2a21160f9010917e105f"
	b.SetBytes(int64(len(e.Data) + len(e.Metadata)))
	for b.Loop() {
		if _, _, err := chain(benchEvent.Stream, 1, prev, []eventstore.EventData{e}); err != nil {
			b.Fatal(err)
		}
	}
}

var benchEvent = eventstore.RecordedEvent{
	ID: uuid.New(), Type: "order.placed", Stream: "order-48deecbe-2452-554b-9a3f-f6f93c598b49",
	Data: []byte(`{"order_id":"ord_48deecbe2452554b9a3ff6f93c598b49","user_id":"user_42","plan_id":"plan_robot_hours_10","amount":4900,"currency":"usd",` +
		`"payment_method_id":"pm_497a1d1ee92551428af93aaceb7a46ca","idempotency_key":"first-pack","fingerprint":"76ce3d243c199ba681df38bff6cb516df415551bbb29f6c427adba1186f06828","placed_at":"2026-12-05T12:08:53.928362102Z"}`),
	Metadata: []byte(`{"correlation_id":"req_eb9c390a75a8ce1f2d9f0cbb","hash":"f41ab790dfcd89a423adb58052b09cca0067d9782dbe2a21160f9010917e105f","idempotency_key":"first-pack","prev_hash":"","user_id":"user_42"}`),
}
