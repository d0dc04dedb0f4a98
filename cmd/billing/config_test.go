package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEventStoreURLs: BILLING_EVENTSTORE_URL selects the embedded store or
// EventStoreDB; anything else is refused before serve opens anything.
func TestEventStoreURLs(t *testing.T) {
	for url, want := range map[string]bool{
		"":                                    true,
		"sqlite:/var/lib/billing/events.db":   true,
		"esdb://localhost:2113?tls=false":     true,
		"esdb://a:2113,b:2113,c:2113":         true,
		"esdb+discover://cluster.example.com": true,
		"kurrentdb://admin:changeit@db:2113":  true,
		"postgres://localhost/billing":        false,
		"esdb://":                             false,
		"kurrentdb://db:port":                 false,
	} {
		cfg := configFromEnv()
		cfg.EventStoreURL = url
		err := cfg.Validate()
		if (err == nil) != want {
			t.Errorf("BILLING_EVENTSTORE_URL=%q: Validate() = %v, want accepted %v", url, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "BILLING_EVENTSTORE_URL") {
			t.Errorf("BILLING_EVENTSTORE_URL=%q: error %q does not name the variable", url, err)
		}
	}
}

// TestPprofListensOnLoopbackOnly: profiles show the service's internals, so
// BILLING_PPROF_ADDR names a loopback address or serve refuses to start.
func TestPprofListensOnLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"":               true, // off
		"127.0.0.1:6060": true,
		"[::1]:6060":     true,
		"localhost:0":    true,
		"0.0.0.0:6060":   false,
		"[::]:6060":      false,
		"10.0.0.5:6060":  false,
		":6060":          false,
		"127.0.0.1":      false,
	} {
		cfg := configFromEnv()
		cfg.PprofAddr = addr
		err := cfg.Validate()
		if (err == nil) != want {
			t.Errorf("BILLING_PPROF_ADDR=%q: Validate() = %v, want accepted %v", addr, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "BILLING_PPROF_ADDR") {
			t.Errorf("BILLING_PPROF_ADDR=%q: error %q does not name the variable", addr, err)
		}
	}
}

// TestDunningSchedules: BILLING_DUNNING_SCHEDULE is increasing positive
// durations after the period end; anything else is refused naming it.
func TestDunningSchedules(t *testing.T) {
	for v, want := range map[string][]time.Duration{
		"24h,72h,120h": {24 * time.Hour, 72 * time.Hour, 120 * time.Hour},
		" 1h , 2h ":    {time.Hour, 2 * time.Hour},
		"":             nil, // the default
		"72h,24h":      nil,
		"24h,24h":      nil,
		"0s":           nil,
		"-1h":          nil,
		"a day":        nil,
	} {
		t.Setenv("BILLING_DUNNING_SCHEDULE", v)
		cfg := configFromEnv()
		err := cfg.Validate()
		if v == "" {
			want = []time.Duration{24 * time.Hour, 72 * time.Hour, 120 * time.Hour}
		}
		switch {
		case want == nil && (err == nil || !strings.Contains(err.Error(), "BILLING_DUNNING_SCHEDULE")):
			t.Errorf("BILLING_DUNNING_SCHEDULE=%q: Validate() = %v, want it refused naming the variable", v, err)
		case want != nil && (err != nil || !slices.Equal(cfg.Dunning, want)):
			t.Errorf("BILLING_DUNNING_SCHEDULE=%q: %v, %v; want %v", v, cfg.Dunning, err, want)
		}
	}
}

// TestBusyPortsFailBeforeAnythingIsWritten: with the HTTP port or the
// embedded NATS port taken, serve fails at once naming the variable, and
// has written nothing: no token key, no log.
func TestBusyPortsFailBeforeAnythingIsWritten(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct{ http, nats, names string }{
		{busy.Addr().String(), "127.0.0.1:0", "BILLING_HTTP_ADDR"},
		{"127.0.0.1:0", busy.Addr().String(), "BILLING_NATS_LISTEN"},
	} {
		cfg := configFromEnv()
		cfg.DataDir, cfg.HTTPAddr, cfg.NATS.Listen, cfg.NATS.URL = t.TempDir(), tc.http, tc.nats, ""
		m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		err := m.Open(context.Background())
		m.Close()
		if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), tc.names) {
			t.Fatalf("%s taken: %v, want address already in use naming %s", tc.names, err, tc.names)
		}
		if entries, _ := os.ReadDir(cfg.DataDir); len(entries) != 0 {
			t.Fatalf("%s taken: serve wrote %d files (%s …) before failing", tc.names, len(entries), entries[0].Name())
		}
	}
}

// TestPublicURLs: a service bound to every interface cannot hand browsers
// its address (http://[::]:8080 opens nowhere): it refuses to start unless
// BILLING_PUBLIC_URL says where it is reached.
func TestPublicURLs(t *testing.T) {
	for _, tc := range []struct{ public, listening, want string }{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", ""},
		{"", "[::]:8080", ""},
		{"https://billing.example.com/", "0.0.0.0:8080", "https://billing.example.com"},
	} {
		c := Config{PublicURL: tc.public}
		got, err := c.publicURL(tc.listening)
		switch {
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), "BILLING_PUBLIC_URL")):
			t.Errorf("listening on %s without BILLING_PUBLIC_URL: %q, %v; want refused naming BILLING_PUBLIC_URL", tc.listening, got, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("BILLING_PUBLIC_URL %q on %s: %q, %v; want %q", tc.public, tc.listening, got, err, tc.want)
		}
	}
}
