package esdb_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// The adapter's cost over gRPC on loopback, against the in-process server
// (whose storage is the embedded store): what a real cluster adds is its
// own replication and network.

// BenchmarkAppend: one small event to a new stream per append, as orders
// are placed, from 1 and 64 concurrent appenders.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) {
			s := open(b, server(b).URL())
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						id := uuid.New()
						if _, err := s.Append(ctx, "order-"+id.String(), eventstore.NoStream,
							eventstore.EventData{ID: id, Type: "order.placed", Data: []byte(`{"amount":4900,"currency":"usd"}`)}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
		})
	}
}

// BenchmarkCatchUp: a subscription from the start of a log of 20,000
// events, as a projector rebuilding.
func BenchmarkCatchUp(b *testing.B) {
	const events = 20000
	s := open(b, server(b).URL())
	ctx := context.Background()
	for i := 0; i < events; i += 100 {
		batch := make([]eventstore.EventData, 100)
		for j := range batch {
			batch[j] = eventstore.EventData{ID: uuid.New(), Type: "e", Data: []byte(`{"amount":4900}`)}
		}
		if _, err := s.Append(ctx, "bulk-"+uuid.NewString(), eventstore.NoStream, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		sub, err := s.SubscribeAll(ctx, eventstore.Start)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < events; {
			evs, err := sub.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(evs)
		}
		sub.Close()
	}
	b.ReportMetric(float64(b.N*events)/time.Since(start).Seconds(), "events/s")
}
