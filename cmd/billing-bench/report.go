package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The routes whose successful answers are the headline figures.
const (
	orderRoute = "POST " + ordersPath
	pageRoute  = "GET " + ordersPath
)

// report is the run's figures, printed as a table or as JSON.
type report struct {
	Scenario     string        `json:"scenario"`
	URL          string        `json:"url"`
	Users        int           `json:"users"`
	Interrupted  bool          `json:"interrupted"`
	Phases       []phaseReport `json:"phases"`
	OrdersPerSec float64       `json:"orders_per_sec,omitempty"` // 201s of POST orders in the load phase
	PagesPerSec  float64       `json:"pages_per_sec,omitempty"`  // 200s of GET orders in the list load phase
	// RenewalsPerSec: renewals charged and recorded per second of the
	// renewals scenario's advance phase.
	RenewalsPerSec float64 `json:"renewals_per_sec,omitempty"`
}

// phaseReport is one phase. Seconds is its measured wall time: for the
// load phase, from the end of the warm-up to the deadline.
type phaseReport struct {
	Name          string           `json:"name"`
	Seconds       float64          `json:"seconds"`
	WarmupSeconds float64          `json:"warmup_seconds,omitempty"`
	Users         int              `json:"users"`
	FailedUsers   int              `json:"failed_users"`
	FirstFailure  string           `json:"first_failure,omitempty"`
	Routes        []routeReport    `json:"routes"`
	Counts        map[string]int64 `json:"counts,omitempty"`
}

// routeReport is one route pattern. Latencies are in milliseconds; Codes
// are by HTTP status, "error" for requests that got no answer.
type routeReport struct {
	Route        string           `json:"route"`
	Count        int64            `json:"count"`
	PerSec       float64          `json:"per_sec"`
	P50          float64          `json:"p50_ms"`
	P90          float64          `json:"p90_ms"`
	P99          float64          `json:"p99_ms"`
	P999         float64          `json:"p99_9_ms"`
	Max          float64          `json:"max_ms"`
	Codes        map[string]int64 `json:"codes"`
	Errors       int64            `json:"errors"`
	ErrorSamples []string         `json:"error_samples,omitempty"`
}

func buildReport(cfg config, results []phaseResult, interrupted bool) report {
	rep := report{Scenario: cfg.Scenario, URL: cfg.URL, Users: cfg.Users, Interrupted: interrupted}
	for _, res := range results {
		ph := phaseReport{
			Name: res.name, Seconds: res.window.Seconds(),
			Users: len(res.users) + res.failed, FailedUsers: res.failed,
			Counts: res.rec.counts,
		}
		if res.timed {
			ph.WarmupSeconds = res.warmup.Seconds()
		}
		if res.firstErr != nil {
			ph.FirstFailure = res.firstErr.Error()
		}
		for _, name := range slices.Sorted(maps.Keys(res.rec.routes)) {
			ph.Routes = append(ph.Routes, newRouteReport(name, res.rec.routes[name], ph.Seconds))
		}
		rep.Phases = append(rep.Phases, ph)
		if res.name == "advance" && res.window > 0 {
			rep.RenewalsPerSec = float64(res.rec.counts["renewed"]) / res.window.Seconds()
		}
		if res.timed && cfg.Scenario == "list" {
			rep.PagesPerSec = ph.rate(pageRoute, "200")
		} else if res.timed {
			rep.OrdersPerSec = ph.rate(orderRoute, "201")
		}
	}
	return rep
}

func newRouteReport(name string, rs *routeStats, seconds float64) routeReport {
	r := routeReport{Route: name, Codes: map[string]int64{}, Errors: rs.errors, ErrorSamples: rs.samples}
	for code, n := range rs.codes {
		r.Codes[codeName(code)] += n
		r.Count += n
	}
	if seconds > 0 {
		r.PerSec = float64(r.Count) / seconds
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	h := rs.latency
	r.P50, r.P90, r.P99 = ms(h.ValueAtQuantile(50)), ms(h.ValueAtQuantile(90)), ms(h.ValueAtQuantile(99))
	r.P999, r.Max = ms(h.ValueAtQuantile(99.9)), ms(maxValue(h))
	return r
}

// maxValue is the largest value recorded, 0 when there is none.
func maxValue(h *hdrhistogram.Histogram) int64 {
	if h.TotalCount() == 0 {
		return 0
	}
	return h.Max()
}

func codeName(code int) string {
	if code == noAnswer {
		return "error"
	}
	return strconv.Itoa(code)
}

// rate is the answers of route with status code per measured second.
func (ph phaseReport) rate(route, code string) float64 {
	for _, r := range ph.Routes {
		if r.Route == route && ph.Seconds > 0 {
			return float64(r.Codes[code]) / ph.Seconds
		}
	}
	return 0
}

func writeJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText prints a table per phase, the error samples, and the
// headline figure.
func writeText(w io.Writer, rep report) error {
	fmt.Fprintf(w, "scenario %s, %d users, %s", rep.Scenario, rep.Users, rep.URL)
	if rep.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintln(w)
	for _, ph := range rep.Phases {
		if err := writePhase(w, ph); err != nil {
			return err
		}
	}
	writeSamples(w, rep.Phases)
	switch {
	case rep.Scenario == "renewals":
		fmt.Fprintf(w, "\nrenewals/s: %.1f\n", rep.RenewalsPerSec)
	case rep.Scenario == "list":
		fmt.Fprintf(w, "\n%d-order pages/s: %.1f\n", pageSize, rep.PagesPerSec)
	default:
		fmt.Fprintf(w, "\norders/s: %.1f\n", rep.OrdersPerSec)
	}
	return nil
}

func writePhase(w io.Writer, ph phaseReport) error {
	fmt.Fprintf(w, "\n%s: %d users, %.2f s", ph.Name, ph.Users, ph.Seconds)
	if ph.WarmupSeconds > 0 {
		fmt.Fprintf(w, " measured after %.2f s of warm-up", ph.WarmupSeconds)
	}
	if ph.FailedUsers > 0 {
		fmt.Fprintf(w, "; %d users failed, the first: %s", ph.FailedUsers, ph.FirstFailure)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "route\tcount\treq/s\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tcodes")
	for _, r := range ph.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n",
			r.Route, r.Count, r.PerSec, r.P50, r.P90, r.P99, r.P999, r.Max, formatCounts(r.Codes, ":"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ph.Counts) > 0 {
		fmt.Fprintf(w, "outcomes: %s\n", formatCounts(ph.Counts, " "))
	}
	return nil
}

// formatCounts lists counts by key: "200:12 409:1".
func formatCounts(counts map[string]int64, sep string) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, k+sep+strconv.FormatInt(counts[k], 10))
	}
	return strings.Join(parts, ", ")
}

func writeSamples(w io.Writer, phases []phaseReport) {
	header := false
	for _, ph := range phases {
		for _, r := range ph.Routes {
			if r.Errors == 0 {
				continue
			}
			if !header {
				fmt.Fprintln(w, "\nerrors (a sample per route):")
				header = true
			}
			fmt.Fprintf(w, "  %s %s: %d errors\n", ph.Name, r.Route, r.Errors)
			for _, s := range r.ErrorSamples {
				fmt.Fprintf(w, "    %s\n", s)
			}
		}
	}
}
