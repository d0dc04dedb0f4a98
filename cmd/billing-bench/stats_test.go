package main

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// observeAll records one request per latency (in ms) on route, status 201.
func observeAll(r *recorder, route string, ms ...int) {
	for _, m := range ms {
		r.observe(observation{route: route, start: t0, took: time.Duration(m) * time.Millisecond, status: 201})
	}
}

func TestMergedRecordersHoldEveryGoroutinesRequests(t *testing.T) {
	a, b := newRecorder(t0, time.Minute), newRecorder(t0, time.Minute)
	observeAll(a, orderRoute, 1, 2, 3, 4, 5)
	observeAll(b, orderRoute, 6, 7, 8, 9, 100)
	observeAll(b, pageRoute, 10)
	b.count("order paid", t0)

	got := newRecorder(t0, time.Minute)
	got.merge(a)
	got.merge(b)

	orders := got.routes[orderRoute]
	if n := orders.latency.TotalCount(); n != 10 {
		t.Fatalf("merged count = %d, want 10", n)
	}
	if p50 := orders.latency.ValueAtQuantile(50); p50 < 4990 || p50 > 5010 {
		t.Errorf("merged p50 = %dµs, want 5ms", p50)
	}
	if mx := orders.latency.Max(); mx < 99_900 || mx > 100_100 {
		t.Errorf("merged max = %dµs, want 100ms", mx)
	}
	if got.routes[pageRoute].codes[201] != 1 || orders.codes[201] != 10 || got.counts["order paid"] != 1 {
		t.Errorf("codes or counts lost in the merge: %v %v", orders.codes, got.counts)
	}
}

func TestWarmupRequestsAreNotRecorded(t *testing.T) {
	r := newRecorder(t0, time.Minute)
	r.observe(observation{route: orderRoute, start: t0.Add(-time.Millisecond), took: time.Second, status: 201})
	r.count("order paid", t0.Add(-time.Millisecond))
	if len(r.routes) != 0 || len(r.counts) != 0 {
		t.Fatalf("a request started during the warm-up was recorded: %v %v", r.routes, r.counts)
	}
}

func TestErrorsAreCountedAndSampled(t *testing.T) {
	a, b := newRecorder(t0, time.Second), newRecorder(t0, time.Second)
	for i := range 4 {
		a.observe(observation{route: orderRoute, start: t0, took: time.Millisecond, status: 500, err: fmt.Errorf("a%d", i)})
		b.observe(observation{route: orderRoute, start: t0, took: time.Millisecond, status: 500, err: fmt.Errorf("b%d", i)})
	}
	// No answer: counted, but only a timeout has a latency worth recording.
	a.observe(observation{route: orderRoute, start: t0, took: time.Microsecond, err: errors.New("refused")})
	a.observe(observation{route: orderRoute, start: t0, took: 5 * time.Second, err: errors.New("timeout"), timedOut: true})
	a.merge(b)

	rs := a.routes[orderRoute]
	if rs.errors != 10 || len(rs.samples) != maxSamples {
		t.Errorf("errors = %d with %d samples, want 10 with %d", rs.errors, len(rs.samples), maxSamples)
	}
	if rs.codes[noAnswer] != 2 || rs.codes[500] != 8 {
		t.Errorf("codes = %v, want 8×500 and 2 without answer", rs.codes)
	}
	if n := rs.latency.TotalCount(); n != 9 {
		t.Errorf("latencies recorded = %d, want 9 (answers and the timeout)", n)
	}
	if mx := rs.latency.Max(); mx < 999_000 || mx > 1_001_000 {
		t.Errorf("a latency past the tracked range = %dµs, want it clamped to 1s", mx)
	}
}
