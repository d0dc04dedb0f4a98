package main

import (
	"strings"
	"testing"
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
