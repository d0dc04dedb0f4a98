package relay_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/relay"
)

// BenchmarkEncode measures one order.placed event's message body.
func BenchmarkEncode(b *testing.B) {
	e := eventstore.RecordedEvent{
		ID: uuid.New(), Stream: "order-9094c7fb-2bbc-5b4d-92e4-a6b16108870e", Type: "order.placed", Revision: 0, Position: 123456,
		RecordedAt: time.Now(),
		Data:       []byte(`{"order_id":"ord_9094c7fb2bbc5b4d92e4a6b16108870e","user_id":"bench-fbc6b33c-3","plan_id":"plan_robot_hours_10","amount":4900,"currency":"usd","payment_method_id":"pm_761406373cc65034a60c4558af3fe3bc","idempotency_key":"bench_bench-fbc6b33c-3_d93bf8df61a2fa09","fingerprint":"de3a1c07857dd4f9e75b39dfc2f77be0f3b51d480489cfbfab4dcba185fcec49","placed_at":"2026-12-07T02:52:43.717122027Z"}`),
		Metadata:   []byte(`{"correlation_id":"req_8b00915480469b333d0f1529","hash":"b3661dd4dea2c69f77ea2fb8a4b93d9918cd017c5fab1d6699db9b41d9604c0b","idempotency_key":"bench_bench-fbc6b33c-3_d93bf8df61a2fa09","prev_hash":"","user_id":"bench-fbc6b33c-3"}`),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := relay.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}
