package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// loadResult is a 10-second load phase: 100 orders, 1..100ms, 2 of them
// unanswered, and 20 pages.
func loadResult() phaseResult {
	rec := newRecorder(t0, time.Minute)
	for i := 1; i <= 100; i++ {
		rec.observe(observation{route: orderRoute, start: t0, took: time.Duration(i) * time.Millisecond, status: 201})
		rec.count("order paid", t0)
	}
	for range 2 {
		rec.observe(observation{route: orderRoute, start: t0, err: errors.New("POST /v1/me/wallet/orders: connection refused")})
	}
	for range 20 {
		rec.observe(observation{route: pageRoute, start: t0, took: time.Millisecond, status: 200})
	}
	return phaseResult{name: "load", timed: true, rec: rec, window: 10 * time.Second, warmup: 2 * time.Second, users: make([]*user, 4)}
}

func TestReportFigures(t *testing.T) {
	rep := buildReport(config{Scenario: "orders", Users: 4}, []phaseResult{loadResult()}, false)
	if rep.OrdersPerSec != 10 {
		t.Errorf("orders/s = %v, want 10 (100 created in 10 s; errors do not count)", rep.OrdersPerSec)
	}
	ph := rep.Phases[0]
	if len(ph.Routes) != 2 || ph.Routes[0].Route != pageRoute || ph.Routes[1].Route != orderRoute {
		t.Fatalf("routes = %+v, want GET then POST orders", ph.Routes)
	}
	got := ph.Routes[1]
	want := routeReport{Route: orderRoute, Count: 102, PerSec: 10.2, Errors: 2, Codes: map[string]int64{"201": 100, "error": 2}}
	if got.Count != want.Count || got.PerSec != want.PerSec || got.Errors != want.Errors || len(got.Codes) != 2 || got.Codes["error"] != 2 {
		t.Errorf("route = %+v, want %+v", got, want)
	}
	for name, pair := range map[string][2]float64{"p50": {got.P50, 50}, "p99": {got.P99, 99}, "max": {got.Max, 100}} {
		if d := pair[0] - pair[1]; d < -0.1 || d > 0.1 {
			t.Errorf("%s = %vms, want %vms", name, pair[0], pair[1])
		}
	}
}

func TestListScenarioReportsPagesPerSecond(t *testing.T) {
	rep := buildReport(config{Scenario: "list", Users: 4}, []phaseResult{loadResult()}, false)
	if rep.PagesPerSec != 2 || rep.OrdersPerSec != 0 {
		t.Errorf("pages/s = %v, orders/s = %v; want 2 and none", rep.PagesPerSec, rep.OrdersPerSec)
	}
}

func TestTextReport(t *testing.T) {
	var buf bytes.Buffer
	rep := buildReport(config{Scenario: "orders", Users: 4, URL: "http://x"}, []phaseResult{loadResult()}, true)
	if err := writeText(&buf, rep); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"scenario orders, 4 users, http://x (interrupted)",
		"load: 4 users, 10.00 s measured after 2.00 s of warm-up",
		"route", "p99.9 ms", "201:100, error:2",
		"outcomes: order paid 100",
		"connection refused",
		"orders/s: 10.0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestJSONReportRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	want := buildReport(config{Scenario: "orders", Users: 4}, []phaseResult{loadResult()}, false)
	if err := writeJSON(&buf, want); err != nil {
		t.Fatal(err)
	}
	var got report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OrdersPerSec != want.OrdersPerSec || got.Phases[0].Routes[1].P99 != want.Phases[0].Routes[1].P99 {
		t.Errorf("JSON lost figures: got %+v", got)
	}
}

func TestEmptyPhaseReportsZeros(t *testing.T) {
	res := phaseResult{name: "load", timed: true, rec: newRecorder(t0, time.Minute)}
	rep := buildReport(config{Scenario: "orders"}, []phaseResult{res}, true)
	if rep.OrdersPerSec != 0 || len(rep.Phases[0].Routes) != 0 {
		t.Errorf("an interrupted warm-up reported figures: %+v", rep)
	}
}
