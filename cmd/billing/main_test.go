package main

import (
	"context"
	"encoding/json"
	"github.com/robotlabor/billing/domain"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// service is a running `billing serve` on a temp data dir and a free port.
type service struct {
	*Main
	base string
	stop func() error
}

func startService(t testing.TB, dataDir string) *service {
	t.Helper()
	cfg := configFromEnv()
	cfg.DataDir, cfg.HTTPAddr, cfg.NATS.Listen = dataDir, "127.0.0.1:0", "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Open(context.Background()); err != nil {
		m.Close()
		t.Fatalf("open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return errorsJoin(<-done, m.Close())
	}
	t.Cleanup(func() { stop() })
	return &service{Main: m, base: "http://" + m.HTTP.Addr().String(), stop: stop}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (s *service) get(t *testing.T, path string, into any) *http.Response {
	t.Helper()
	return s.do(t, http.MethodGet, path, into)
}

func (s *service) do(t *testing.T, method, path string, into any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("%s %s: decoding answer: %v", method, path, err)
		}
	}
	return resp
}

type errorEnvelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestServeHealthAndReadiness(t *testing.T) {
	s := startService(t, t.TempDir())
	if resp := s.get(t, "/healthz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
	// Ready once the read models have folded the log as it was at start
	// and the relay reached NATS.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := s.get(t, "/readyz", nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("GET /readyz = %d, want 200 or 503 while starting", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.get(t, "/healthz", nil).Header.Get("Request-Id") == "" {
		t.Error("answer carries no Request-Id")
	}
}

func TestPlansListTheDefaultCatalog(t *testing.T) {
	s := startService(t, t.TempDir())
	var got struct {
		Data []struct {
			ID            string  `json:"id"`
			Type          string  `json:"type"`
			Amount        int64   `json:"amount"`
			Currency      string  `json:"currency"`
			Interval      *string `json:"interval"`
			IntervalCount *int    `json:"interval_count"`
			CustomAmount  *struct {
				Min, Max int64
			} `json:"custom_amount"`
		} `json:"data"`
		HasMore *bool `json:"has_more"`
	}
	if resp := s.get(t, "/v1/plans", &got); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/plans = %d", resp.StatusCode)
	}
	if got.HasMore == nil || *got.HasMore {
		t.Fatalf("has_more = %v, want false", got.HasMore)
	}
	var fixed, custom, monthly bool
	for _, p := range got.Data {
		switch {
		case p.Type == "one_time" && p.CustomAmount == nil && p.Interval == nil && p.Amount > 0:
			fixed = true
		case p.Type == "one_time" && p.CustomAmount != nil && p.CustomAmount.Min <= p.Amount && p.Amount <= p.CustomAmount.Max:
			custom = true
		case p.Type == "recurring" && p.Interval != nil && *p.Interval == "month" && p.IntervalCount != nil && *p.IntervalCount >= 1:
			monthly = true
		}
		if p.Currency != "usd" {
			t.Errorf("plan %s in %q", p.ID, p.Currency)
		}
	}
	if !fixed || !custom || !monthly {
		t.Fatalf("catalog lacks a fixed one_time (%v), a custom-amount one_time (%v) or a monthly recurring plan (%v): %+v", fixed, custom, monthly, got.Data)
	}
}

// TestRestartRecordsTheCatalogOnce: the catalog is in the log; starting
// again with the same catalog appends nothing to it (a clean stop seals
// the log: see TestACleanStopSealsTheLog).
func TestRestartRecordsTheCatalogOnce(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	first := logLength(t, s)
	if first == 0 {
		t.Fatal("no catalog events after the first start")
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s = startService(t, dir)
	if got := logLength(t, s); got != first {
		t.Fatalf("log has %d events after a restart, want %d", got, first)
	}
}

// logLength counts the events of the log but seals.
func logLength(t *testing.T, s *service) int {
	t.Helper()
	evs, err := s.Store.ReadAll(context.Background(), eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Stream != domain.AuditStream {
			n++
		}
	}
	return n
}

func TestUnknownRoutesAndMethodsAnswerTheErrorEnvelope(t *testing.T) {
	s := startService(t, t.TempDir())
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/nope", http.StatusNotFound, "not_found"},
		{http.MethodDelete, "/v1/plans", http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tc := range cases {
		var got errorEnvelope
		resp := s.do(t, tc.method, tc.path, &got)
		if resp.StatusCode != tc.status || got.Error.Code != tc.code || got.Error.Message == "" {
			t.Errorf("%s %s = %d %+v, want %d %s with a message", tc.method, tc.path, resp.StatusCode, got, tc.status, tc.code)
		}
	}
}

func TestMetricsAreExported(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	alice.buy(orderBody(alice.saveCard(visa), fixedPlan, "m1"))
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`billing_http_request_duration_seconds_count{method="POST",route="/v1/me/wallet/orders",status="201"} 1`,
		`billing_eventstore_appends_total{result="ok"}`,
		`billing_consumer_lag_events{consumer="projections"}`,
		`billing_consumer_lag_seconds{consumer="reconciler"}`,
		`billing_reconciler_outcomes_total{kind="charge",outcome="succeeded"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestPprofIsServedWhenAsked: with BILLING_PPROF_ADDR, serve answers
// net/http/pprof there, beside the API.
func TestPprofIsServedWhenAsked(t *testing.T) {
	t.Setenv("BILLING_PPROF_ADDR", "127.0.0.1:0")
	s := startService(t, t.TempDir())
	resp, err := http.Get("http://" + s.pprofListener.Addr().String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("pprof answered %d: %.200s", resp.StatusCode, body)
	}
}
