package main

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds with 3 significant digits: 0.1%
// precision from 1µs to the longest latency tracked.
const (
	sigFigs    = 3
	maxSamples = 5 // error samples kept per route
	noAnswer   = 0 // the status of a request that got no answer
)

// observation is one request as a virtual user saw it.
type observation struct {
	route    string
	start    time.Time
	took     time.Duration
	status   int   // noAnswer on a transport error
	err      error // a transport error or an unexpected status
	timedOut bool
}

// routeStats is what one route saw.
type routeStats struct {
	latency *hdrhistogram.Histogram // µs; answered and timed-out requests
	codes   map[int]int64           // by status; noAnswer for transport errors
	errors  int64
	samples []string // the first errors
}

// recorder is one goroutine's figures. Each virtual user records into its
// own, without locks; the recorders of a phase are merged when it ends.
type recorder struct {
	from       time.Time // requests started earlier are warm-up: not recorded
	maxLatency time.Duration
	routes     map[string]*routeStats
	counts     map[string]int64 // named events: order outcomes, anomalies
}

func newRecorder(from time.Time, maxLatency time.Duration) *recorder {
	return &recorder{
		from:       from,
		maxLatency: maxLatency,
		routes:     map[string]*routeStats{},
		counts:     map[string]int64{},
	}
}

func (r *recorder) route(name string) *routeStats {
	rs, ok := r.routes[name]
	if !ok {
		rs = &routeStats{
			latency: hdrhistogram.New(1, r.maxLatency.Microseconds(), sigFigs),
			codes:   map[int]int64{},
		}
		r.routes[name] = rs
	}
	return rs
}

// observe records o unless it started during the warm-up. Latencies past
// the longest tracked are recorded as the longest.
func (r *recorder) observe(o observation) {
	if o.start.Before(r.from) {
		return
	}
	rs := r.route(o.route)
	rs.codes[o.status]++
	if o.status != noAnswer || o.timedOut {
		us := max(1, min(o.took.Microseconds(), r.maxLatency.Microseconds()))
		_ = rs.latency.RecordValue(us) // in range by construction
	}
	if o.err != nil {
		rs.errors++
		if len(rs.samples) < maxSamples {
			rs.samples = append(rs.samples, o.err.Error())
		}
	}
}

// count adds one to a named event that happened to a request started at
// start, unless that was during the warm-up.
func (r *recorder) count(name string, start time.Time) {
	if !start.Before(r.from) {
		r.counts[name]++
	}
}

// merge adds other's figures to r's.
func (r *recorder) merge(other *recorder) {
	for name, o := range other.routes {
		rs := r.route(name)
		rs.latency.Merge(o.latency)
		for code, n := range o.codes {
			rs.codes[code] += n
		}
		rs.errors += o.errors
		for _, s := range o.samples {
			if len(rs.samples) < maxSamples {
				rs.samples = append(rs.samples, s)
			}
		}
	}
	for name, n := range other.counts {
		r.counts[name] += n
	}
}
