package main

import (
	"context"
	"fmt"
	"github.com/robotlabor/billing/audit"
	"log/slog"
	"strings"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/esdb"
	"github.com/robotlabor/billing/eventstore/sqlite"
)

// usesESDB reports whether BILLING_EVENTSTORE_URL names EventStoreDB (or
// KurrentDB) rather than the embedded store.
func (c *Config) usesESDB() bool {
	return c.EventStoreURL != "" && !strings.HasPrefix(c.EventStoreURL, "sqlite:")
}

// validateEventStoreURL checks BILLING_EVENTSTORE_URL: empty (embedded in
// the data dir), sqlite:PATH, or an EventStoreDB connection string.
func (c *Config) validateEventStoreURL() error {
	if !c.usesESDB() {
		return nil
	}
	if _, err := esdb.ParseURL(c.EventStoreURL); err != nil {
		return fmt.Errorf("config: BILLING_EVENTSTORE_URL: want sqlite:PATH, esdb://… or kurrentdb://…: %w", err)
	}
	return nil
}

// openStore opens the event store the configuration names, chaining
// every append (audit.Chain). readOnly asks the embedded store for a
// reader beside a running serve; EventStoreDB serves readers and writers
// alike.
func openStore(ctx context.Context, cfg Config, readOnly bool, now func() time.Time, logger *slog.Logger) (eventstore.Store, error) {
	if err := cfg.validateEventStoreURL(); err != nil {
		return nil, err
	}
	var store eventstore.Store
	var err error
	if cfg.usesESDB() {
		store, err = esdb.Open(ctx, esdb.Config{URL: cfg.EventStoreURL, Logger: logger})
	} else {
		store, err = sqlite.Open(ctx, sqlite.Config{Path: cfg.EventStorePath(), ReadOnly: readOnly, Now: now})
	}
	if err != nil {
		return nil, err
	}
	return audit.Chain(store), nil
}
