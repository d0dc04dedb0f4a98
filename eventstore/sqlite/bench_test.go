package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
)

// payload is a ~300-byte JSON body, the size of an order event.
var payload = []byte(`{"order_id":"ord_4f1c2a9e8b7d4c3a9f0e1d2c3b4a5968","user_id":"user_8c1d2e3f",` +
	`"plan_id":"plan_robot_hours_10","amount":4900,"currency":"usd","payment_method_id":"pm_1a2b3c4d5e6f7a8b9c0d",` +
	`"idempotency_key":"7c9e6679-7425-40de-944b-e07fc1f90ae7","fingerprint":"9f86d081884c7d659a2feaa0c55ad015",` +
	`"placed_at":"2026-11-24T17:00:00Z"}`)

// BenchmarkRawFsync is the disk's floor: one 4 KiB write plus fsync per op.
// Compare the append benchmarks' appends/s with its writes/s.
func BenchmarkRawFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}

// BenchmarkAppend: durable appends of one ~300-byte event to a new stream
// (an order being placed), from 1, 16 and 128 concurrent appenders.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("appenders=%d", n), func(b *testing.B) { benchAppend(b, n) })
	}
}

func benchAppend(b *testing.B, appenders int) {
	s := open(b, sqlite.Config{})
	ctx := context.Background()
	var next atomic.Int64
	lat := make([][]time.Duration, appenders)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				id := uuid.New()
				t0 := time.Now()
				_, err := s.Append(ctx, "order-"+id.String(), eventstore.NoStream,
					eventstore.EventData{ID: id, Type: "order.placed", Data: payload})
				lat[g] = append(lat[g], time.Since(t0))
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkReadAll reads a 100,000-event log from the start in pages, as a
// projection rebuild or an export does; one op is one event.
func BenchmarkReadAll(b *testing.B) {
	const total = 100_000
	s := open(b, sqlite.Config{})
	ctx := context.Background()
	batch := make([]eventstore.EventData, 0, 1000)
	for i := 0; i < total; i += cap(batch) {
		batch = batch[:0]
		for range cap(batch) {
			batch = append(batch, eventstore.EventData{ID: uuid.New(), Type: "order.placed", Data: payload})
		}
		if _, err := s.Append(ctx, "stream-"+strings.Repeat("x", i%7), eventstore.Any, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	read := 0
	for pos := eventstore.Start; read < b.N; {
		evs, err := s.ReadAll(ctx, pos, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			pos = eventstore.Start
			continue
		}
		read += len(evs)
		pos = evs[len(evs)-1].Position
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "events/s")
}
