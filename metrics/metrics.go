package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robotlabor/billing/eventstore"
)

// Metrics holds the registry and the service's own metrics.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.HistogramVec
	appends    *prometheus.CounterVec
	appendTime prometheus.Histogram
	outcomes   *prometheus.CounterVec

	mu    sync.Mutex
	heads map[eventstore.Store]*lastHead // one per store, shared by its consumers' gauges
	// PositionsAreBytes: the store's positions are byte offsets
	// (EventStoreDB's transaction log), not event counts: consumer lag is
	// then exported as billing_consumer_lag_bytes.
	PositionsAreBytes bool
}

// New registers the service's metrics and the Go runtime's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "billing_http_request_duration_seconds", Help: "HTTP request latency by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "billing_eventstore_appends_total", Help: "Appends to the event store by result (ok, conflict, invalid, error).",
		}, []string{"result"}),
		appendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "billing_eventstore_append_duration_seconds", Help: "Durable append latency (including group commit and fsync).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "billing_reconciler_outcomes_total", Help: "Reconciler reactions by kind (charge, refund, ...) and outcome.",
		}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.appends, m.appendTime, m.outcomes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one HTTP request (route is the route pattern, so
// ids do not explode the label space).
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// ObserveOutcome records one reconciler reaction.
func (m *Metrics) ObserveOutcome(kind, outcome string) {
	m.outcomes.WithLabelValues(kind, outcome).Inc()
}

// Follower is a consumer of the log whose lag is worth watching.
type Follower interface {
	Position() eventstore.Position
}

// WatchLag exports how far follower (name: "projections", ...) is behind
// the head of store, in events (positions) and in seconds since the first
// event it has not applied was recorded (0 when caught up).
func (m *Metrics) WatchLag(name string, store eventstore.Store, f Follower) {
	labels := prometheus.Labels{"consumer": name}
	m.mu.Lock()
	if m.heads == nil {
		m.heads = map[eventstore.Store]*lastHead{}
	}
	h, ok := m.heads[store]
	if !ok {
		h = &lastHead{store: store}
		m.heads[store] = h
	}
	m.mu.Unlock()
	name, help := "billing_consumer_lag_events", "Events between the head of the log and what the consumer applied."
	if m.PositionsAreBytes {
		name, help = "billing_consumer_lag_bytes", "Bytes of EventStoreDB's transaction log between its head and what the consumer applied."
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: name, Help: help, ConstLabels: labels,
	}, func() float64 {
		head, pos := h.get(), f.Position()
		if head <= pos {
			return 0
		}
		return float64(head - pos)
	}))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "billing_consumer_lag_seconds", Help: "Age of the oldest event the consumer has not applied.", ConstLabels: labels,
	}, func() float64 {
		pos := f.Position()
		if h.get() <= pos {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		next, err := store.ReadAll(ctx, pos, 1)
		if err != nil || len(next) == 0 {
			return 0
		}
		return time.Since(next[0].RecordedAt).Seconds()
	}))
}

// lastHead reads the store's head for a scrape and keeps the last one it
// read: when the store does not answer (an outage is when lag matters),
// the lag is measured against that, not against Start, which would read as
// caught up. One read serves every gauge of a scrape (headFresh).
type lastHead struct {
	store eventstore.Store
	mu    sync.Mutex
	head  eventstore.Position
	at    time.Time // when head was read
}

// headFresh is how long a head read serves the gauges asking for it.
const headFresh = time.Second

func (h *lastHead) get() eventstore.Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.at) < headFresh {
		return h.head
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if head, err := h.store.Head(ctx); err == nil {
		h.head = head
	}
	h.at = time.Now() // a failed read too: a scrape waits on it once, not per gauge
	return h.head
}
