package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	bhttp "github.com/robotlabor/billing/http"
	"golang.org/x/sync/errgroup"
)

// Main is the whole service in one process. Open composes the parts, Run
// runs them until its context ends or one fails, Close releases them. The
// end-to-end tests drive exactly this.
type Main struct {
	Config Config
	Logger *slog.Logger
	Now    func() time.Time

	Store eventstore.Store
	Log   *app.Log
	HTTP  *bhttp.Server
}

// NewMain returns a Main for cfg, not yet open.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, Now: time.Now}
}

// Open opens the event store, records the plan catalog, and binds the HTTP
// listener, so that when it returns the service's address is known.
func (m *Main) Open(ctx context.Context) error {
	store, err := sqlite.Open(ctx, sqlite.Config{Path: m.Config.EventStorePath(), Now: m.Now})
	if err != nil {
		return err
	}
	m.Store = store
	m.Log = app.NewLog(store, m.Now)

	published, err := app.SyncCatalog(ctx, m.Log, domain.DefaultPlans(), app.Metadata{CorrelationID: "startup"})
	if err != nil {
		return err
	}
	if published > 0 {
		m.Logger.Info("plan catalog recorded", "events", published)
	}

	m.HTTP, err = bhttp.New(bhttp.Config{
		Addr:            m.Config.HTTPAddr,
		Logger:          m.Logger,
		Plans:           app.Plans{Log: m.Log},
		Ready:           m.ready,
		ShutdownTimeout: m.Config.ShutdownTimeout,
	})
	if err != nil {
		return err
	}
	return m.HTTP.Listen()
}

// ready reports whether the service can answer: the event store reads.
func (m *Main) ready(ctx context.Context) error {
	if _, err := m.Store.ReadAll(ctx, eventstore.Start, 1); err != nil {
		return fmt.Errorf("event store: %w", err)
	}
	return nil
}

// Run runs every part until ctx ends (a clean stop, nil) or one part fails,
// which stops the others.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("billing serving", "http", "http://"+m.HTTP.Addr().String(), "data_dir", m.Config.DataDir, "event_store", "embedded")
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.HTTP.Run(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	m.Logger.Info("billing stopped", "error", err)
	return err
}

// Close releases what Open acquired; safe after a failed Open.
func (m *Main) Close() error {
	if m.Store != nil {
		return m.Store.Close()
	}
	return nil
}
