package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/robotlabor/billing/audit"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/auth"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	bhttp "github.com/robotlabor/billing/http"
	"github.com/robotlabor/billing/metrics"
	"github.com/robotlabor/billing/payments"
	"github.com/robotlabor/billing/payments/sandbox"
	"github.com/robotlabor/billing/payments/stripe"
	"github.com/robotlabor/billing/projections"
	"github.com/robotlabor/billing/reconciler"
	"github.com/robotlabor/billing/relay"
	"golang.org/x/sync/errgroup"
)

// Main is the whole service in one process. Open composes the parts, Run
// runs them until its context ends or one fails, Close releases them. The
// end-to-end tests drive exactly this.
type Main struct {
	Config Config
	Logger *slog.Logger
	Now    func() time.Time

	Metrics    *metrics.Metrics
	Store      eventstore.Store
	Log        *app.Log
	Keys       *auth.Keys
	ReadModels *projections.ReadModels
	Projector  *projections.Projector
	Provider   provider
	Sandbox    *sandbox.Sandbox // nil with Stripe
	stripe     *stripe.Stripe   // nil with the sandbox
	Service    *app.Service
	Reconciler *reconciler.Reconciler
	Relay      *relay.Relay
	HTTP       *bhttp.Server

	natsServer *relay.Server // nil with an external NATS
	nats       *nats.Conn

	listener      net.Listener
	publicURL     string              // where browsers reach this service (BILLING_PUBLIC_URL, or derived from the listener)
	pprofListener net.Listener        // nil unless BILLING_PPROF_ADDR is set
	startupHead   eventstore.Position // the read models are ready once they reach it
}

// NewMain returns a Main for cfg, not yet open.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, Now: time.Now}
}

// Open opens every part in dependency order and binds the HTTP listener,
// so that when it returns the service's address is known. After a failed
// Open, Close releases what was opened.
func (m *Main) Open(ctx context.Context) error {
	for _, step := range []func(context.Context) error{m.openListeners, m.openLedger, m.openAuth, m.openReadModels, m.openPayments, m.openNATS, m.openPprof, m.openHTTP} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// openListeners binds the HTTP address, and checks the embedded NATS's,
// before anything is written (the catalog, the token key): a port in use
// fails start-up with nothing changed.
func (m *Main) openListeners(context.Context) error {
	ln, err := net.Listen("tcp", m.Config.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (BILLING_HTTP_ADDR): %w", m.Config.HTTPAddr, err)
	}
	m.listener = ln
	if m.publicURL, err = m.Config.publicURL(ln.Addr().String()); err != nil {
		return err
	}
	if l := m.Config.NATS.Listen; m.Config.NATS.URL == "" && !strings.HasSuffix(l, ":0") {
		return relay.CheckListen(l)
	}
	return nil
}

func (m *Main) openLedger(ctx context.Context) error {
	plans, err := loadPlans(m.Config.PlansFile)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, m.Config, false, m.Now, m.Logger)
	if err != nil {
		return err
	}
	m.Metrics = metrics.New()
	m.Metrics.PositionsAreBytes = m.Config.usesESDB() // EventStoreDB's positions are offsets in its transaction log
	m.Store = m.Metrics.InstrumentStore(store)
	m.Log = app.NewLog(m.Store, m.Now)
	recorded, err := app.SyncCatalog(ctx, m.Log, plans, app.Metadata{CorrelationID: "startup"})
	if err != nil {
		return err
	}
	if recorded > 0 {
		m.Logger.Info("plan catalog recorded", "events", recorded)
	}
	return nil
}

func (m *Main) openAuth(context.Context) error {
	key, err := auth.LoadOrCreateKey(m.Config.JWTSecret, m.Config.DataDir)
	if err != nil {
		return err
	}
	m.Keys, err = auth.New(key, m.Now)
	return err
}

func (m *Main) openReadModels(ctx context.Context) error {
	rm, err := projections.Open(ctx, m.Config.path("readmodels.db"))
	if err != nil {
		return err
	}
	m.ReadModels = rm
	rm.SetLog(m.Store) // as-of reads fold from it
	m.Projector = projections.NewProjector(rm, m.Store, m.Logger)
	m.Metrics.WatchLag("projections", m.Store, m.Projector)
	m.startupHead, err = m.Store.Head(ctx)
	// Every write answered before this start is in the log by now: no
	// read shows less, though the read models may not have committed it.
	m.Projector.HoldReadsUntil(m.startupHead)
	return err
}

func (m *Main) openPayments(ctx context.Context) error {
	if err := m.openProvider(ctx, m.publicURL); err != nil {
		return err
	}
	m.Service = &app.Service{Log: m.Log, Provider: m.Provider}
	var err error
	m.Reconciler, err = reconciler.New(ctx, reconciler.Config{
		Log: m.Log, Provider: m.Provider, CheckpointPath: m.Config.path("reconciler.db"), Logger: m.Logger,
		Observe: m.Metrics.ObserveOutcome, Interpreter: m.interpreter(), Limbo: m.ReadModels,
		Renewals: m.renewals(), Dunning: m.Config.Dunning,
	})
	if err != nil {
		return err
	}
	m.Metrics.WatchLag("reconciler", m.Store, m.Reconciler)
	return nil
}

// provider is what serve asks of a payment provider: setup sessions for
// the API, money movements for the reconciler.
type provider interface {
	app.SetupProvider
	reconciler.Provider
}

// Stripe forgets idempotency keys after a day: past that, the reconciler
// looks an order's payment up instead of asking for it again.
var _ reconciler.Forgetful = (*stripe.Stripe)(nil)

// Stripe bills subscriptions by itself: the ledger's cancellations at
// period end and card changes are passed on to it.
var _ reconciler.Updater = (*stripe.Stripe)(nil)

// openProvider opens Stripe when a secret key is configured, else the
// sandbox with its hosted pages.
func (m *Main) openProvider(ctx context.Context, publicURL string) error {
	if c := m.Config.Stripe; c.SecretKey != "" {
		s, err := stripe.New(stripe.Config{SecretKey: c.SecretKey, APIBase: c.APIBase, PublicURL: publicURL,
			HTTPClient: &http.Client{Timeout: c.Timeout}})
		if err != nil {
			return err
		}
		if err := m.checkStripePrices(ctx, s); err != nil {
			return err
		}
		m.Provider, m.stripe = s, s
		return nil
	}
	sb, err := sandbox.Open(ctx, sandbox.Config{
		Path:             m.Config.sandboxPath(),
		PublicURL:        publicURL,
		Now:              m.Now,
		OnSetupCompleted: m.cardSaved,
		Logger:           m.Logger,
	})
	m.Sandbox, m.Provider = sb, sb
	m.Log.TestClocks = true // each user's billing times follow their test clock
	return err
}

// checkStripePrices refuses to bill through Stripe a recurring plan that
// names no Stripe price (its orders could never start), or whose price at
// Stripe differs from the plan's in amount, currency or interval: Stripe
// would bill every renewal at its price while the ledger sold the plan's.
// Stripe unreachable, the check is skipped with a warning: an outage at
// Stripe must not keep the service down.
func (m *Main) checkStripePrices(ctx context.Context, s *stripe.Stripe) error {
	catalog, err := app.LoadCatalog(ctx, m.Log)
	if err != nil {
		return err
	}
	var missing, differ []string
	for _, p := range catalog.Plans() {
		if p.Type != domain.Recurring {
			continue
		}
		if p.ProviderPrice == "" {
			missing = append(missing, string(p.ID))
			continue
		}
		price, err := s.Price(ctx, p.ProviderPrice)
		switch {
		case errors.Is(err, payments.ErrInvalidRequest) || errors.Is(err, payments.ErrNotFound):
			differ = append(differ, fmt.Sprintf("%s: %v", p.ID, err))
		case err != nil:
			m.Logger.Warn("stripe: cannot check a plan's price now", "plan", p.ID, "price", p.ProviderPrice, "error", err)
		default:
			if d := priceDiffers(p, price); d != "" {
				differ = append(differ, fmt.Sprintf("%s: Stripe price %s %s", p.ID, p.ProviderPrice, d))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("with Stripe, every recurring plan needs its Stripe price (provider_price in BILLING_PLANS_FILE, see docs/stripe.md); missing: %s", strings.Join(missing, ", "))
	}
	if len(differ) > 0 {
		return fmt.Errorf("with Stripe, a recurring plan must be sold at its Stripe price (fix BILLING_PLANS_FILE or the price at Stripe): %s", strings.Join(differ, "; "))
	}
	return nil
}

// priceDiffers says how Stripe's price differs from plan's, or "".
func priceDiffers(plan domain.Plan, p payments.Price) string {
	var d []string
	if p.Amount != plan.Price.Amount {
		d = append(d, fmt.Sprintf("charges %d, the plan %d", p.Amount, plan.Price.Amount))
	}
	if !strings.EqualFold(p.Currency, string(plan.Price.Currency)) {
		d = append(d, fmt.Sprintf("is in %s, the plan in %s", p.Currency, plan.Price.Currency))
	}
	if p.Interval != string(plan.Interval) || p.IntervalCount != plan.IntervalCount {
		d = append(d, fmt.Sprintf("bills every %d %s, the plan every %d %s", p.IntervalCount, p.Interval, plan.IntervalCount, plan.Interval))
	}
	return strings.Join(d, ", ")
}

// cardSaved records a card the provider reports saved, and returns once the
// read models list it: the page the user submitted answers after that.
func (m *Main) cardSaved(ctx context.Context, e payments.SetupCompleted) error {
	pos, err := m.Service.AttachCard(ctx, e, app.Metadata{CorrelationID: e.ProviderEventID})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return m.Projector.WaitFor(ctx, pos)
}

// testClocks serves the users' test clocks with the sandbox; with Stripe,
// its own test clocks apply (nil: the routes answer 404).
func (m *Main) testClocks() bhttp.Clocks {
	if m.stripe != nil {
		return nil
	}
	return newClocks(m)
}

// renewals lets the ledger bill renewals itself with the sandbox; Stripe
// bills its subscriptions and sends its invoices (nil).
func (m *Main) renewals() reconciler.Renewals {
	if m.stripe != nil {
		return nil
	}
	return m.ReadModels
}

// interpreter reads Stripe's webhooks (nil with the sandbox).
func (m *Main) interpreter() reconciler.Interpreter {
	if m.stripe == nil {
		return nil
	}
	return m.stripe
}

// webhooks takes Stripe's webhooks (nil with the sandbox).
func (m *Main) webhooks() bhttp.Webhooks {
	if m.stripe == nil {
		return nil
	}
	return &reconciler.Inbox{Log: m.Log, Verifier: stripe.Webhooks{Secrets: m.Config.Stripe.WebhookSecrets}}
}

// sandboxPages serves the sandbox's hosted card pages (nil with Stripe).
func (m *Main) sandboxPages() http.Handler {
	if m.Sandbox == nil {
		return nil
	}
	return m.Sandbox.Handler()
}

func (m *Main) openHTTP(context.Context) error {
	var err error
	m.HTTP, err = bhttp.New(bhttp.Config{
		Listener:        m.listener,
		Logger:          m.Logger,
		Auth:            m.Keys,
		Plans:           app.Plans{Log: m.Log},
		Commands:        m.Service,
		Queries:         m.ReadModels,
		Progress:        m.Projector,
		Sandbox:         m.sandboxPages(),
		Clocks:          m.testClocks(),
		Webhooks:        m.webhooks(),
		Metrics:         m.Metrics,
		MetricsHandler:  m.Metrics.Handler(),
		Ready:           m.ready,
		OutcomeWait:     m.Config.OutcomeWait,
		ShutdownTimeout: m.Config.ShutdownTimeout,
	})
	return err
}

// ready: the event store reads, and the read models have folded the log
// as it was at startup.
func (m *Main) ready(ctx context.Context) error {
	// A probe answers promptly: a store that does not answer within a
	// few seconds is not ready (EventStoreDB calls wait out a failover).
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// One event of a stream serve itself wrote at start: a single small
	// read on either backend, where a read of $all from its start may first
	// pass EventStoreDB's own events.
	if _, err := m.Store.ReadStream(sctx, domain.CatalogStream, eventstore.Backwards, eventstore.End, 1); err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return fmt.Errorf("event store: %w", err)
	}
	if pos := m.Projector.Position(); pos < m.startupHead {
		return fmt.Errorf("read models catching up: at %d of %d", pos, m.startupHead)
	}
	return m.natsReady()
}

// eventStoreName says which backend holds the ledger, for the log; not the
// URL, which may carry a password.
func (m *Main) eventStoreName() string {
	if m.Config.usesESDB() {
		return "eventstoredb"
	}
	return "embedded:" + m.Config.EventStorePath()
}

// Run runs every part until ctx ends (a clean stop, nil) or one part fails,
// which stops the others. Shutdown is ordered: HTTP drains its in-flight
// requests first, while the projector and the reconciler they wait on keep
// running; then those stop.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("billing serving", "http", "http://"+m.HTTP.Addr().String(), "data_dir", m.Config.DataDir,
		"event_store", m.eventStoreName(), "payments", m.Provider.Name(), "nats", m.nats.ConnectedUrl())
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workers, workCtx := errgroup.WithContext(workCtx)
	workers.Go(func() error { return m.Projector.Run(workCtx) })
	workers.Go(func() error { return m.Reconciler.Run(workCtx) })
	if m.Sandbox != nil {
		workers.Go(func() error { return m.Sandbox.Run(workCtx) })
	}
	workers.Go(func() error { return m.Relay.Run(workCtx) })
	workers.Go(func() error { return m.servePprof(workCtx) })
	sealer := &audit.Sealer{Store: m.Store, Now: time.Now}
	workers.Go(func() error { sealer.Run(workCtx, sealEvery, m.Logger); return nil })

	httpCtx, stopHTTP := context.WithCancel(ctx)
	defer stopHTTP()
	go func() {
		<-workCtx.Done() // a worker failed: stop serving too
		stopHTTP()
	}()
	httpErr := m.HTTP.Run(httpCtx)
	stopWork()
	err := errors.Join(httpErr, workers.Wait())
	if err == nil || errors.Is(err, context.Canceled) {
		m.sealOnStop(sealer)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	m.Logger.Info("billing stopped", "error", err)
	return err
}

// sealOnStop pins what arrived since the last seal, so a clean stop leaves
// the whole log sealed.
func (m *Main) sealOnStop(s *audit.Sealer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.SealAll(ctx); err != nil {
		m.Logger.Error("audit seal on stop failed", "error", err)
	}
}

// Close releases what Open acquired, in reverse order; safe after a failed Open.
func (m *Main) Close() error {
	var errs []error
	if m.nats != nil {
		m.nats.Close()
	}
	if m.natsServer != nil {
		m.natsServer.Shutdown()
	}
	if m.Reconciler != nil {
		errs = append(errs, m.Reconciler.Close())
	}
	if m.Sandbox != nil {
		errs = append(errs, m.Sandbox.Close())
	}
	if m.pprofListener != nil {
		m.pprofListener.Close() // closed already when it served
	}
	if m.listener != nil {
		m.listener.Close() // already closed when HTTP ran; not after a failed Open
	}
	if m.ReadModels != nil {
		errs = append(errs, m.ReadModels.Close())
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}
