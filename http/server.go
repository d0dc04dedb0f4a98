package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Config is what the HTTP server needs.
type Config struct {
	// Listener to serve on; when nil, Run listens on Addr.
	Listener net.Listener
	Addr     string // listen address; port 0 picks a free one
	Logger   *slog.Logger
	Auth     Verifier
	Plans    PlanSource
	Commands Commands
	Queries  Queries
	Progress Progress
	// Metrics receives every request's latency; MetricsHandler serves
	// GET /metrics. Both optional.
	Metrics        RequestObserver
	MetricsHandler http.Handler
	// Webhooks receives Stripe's webhooks at /v1/webhooks/stripe; nil
	// when Stripe is not the provider.
	Webhooks Webhooks
	// Sandbox serves the sandbox provider's hosted card pages under
	// /sandbox/; nil when the sandbox is not the provider.
	Sandbox http.Handler
	// Clocks serves the users' test clocks under /v1/me/test_clock; nil
	// when the sandbox is not the provider (the routes are then 404).
	Clocks Clocks
	// Ready reports whether the service's dependencies are ready (/readyz).
	Ready func(ctx context.Context) error
	// OutcomeWait bounds how long a POST waits for a payment or refund
	// outcome before answering with the order still pending. Default 5s.
	OutcomeWait time.Duration
	// ShutdownTimeout bounds how long in-flight requests may drain. Default 10s.
	ShutdownTimeout time.Duration
}

// Validate reports the first missing part.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "" && c.Listener == nil:
		return errors.New("http: Addr or Listener is required")
	case c.Logger == nil:
		return errors.New("http: Logger is required")
	case c.Auth == nil:
		return errors.New("http: Auth is required")
	case c.Plans == nil:
		return errors.New("http: Plans is required")
	case c.Commands == nil:
		return errors.New("http: Commands is required")
	case c.Queries == nil:
		return errors.New("http: Queries is required")
	case c.Progress == nil:
		return errors.New("http: Progress is required")
	case c.Ready == nil:
		return errors.New("http: Ready is required")
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.OutcomeWait <= 0 {
		c.OutcomeWait = 5 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	return nil
}

// Server serves the API.
type Server struct {
	cfg    Config
	engine *gin.Engine
	ln     net.Listener
}

// New builds the server and its routes; Listen binds it, Run serves.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter, gin.DefaultErrorWriter = io.Discard, io.Discard
	cfg.Queries = synced{cfg.Queries, cfg.Progress}
	s := &Server{cfg: cfg, engine: gin.New(), ln: cfg.Listener}
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	s.engine.Use(requestID, accessLog(cfg.Logger, cfg.Metrics), recovery(cfg.Logger))
	s.engine.NoRoute(noRoute)
	s.engine.NoMethod(noMethod)
	for _, r := range s.routes() {
		handlers := []gin.HandlerFunc{limitBody(r.maxBody())}
		if r.Auth {
			handlers = append(handlers, s.authenticate)
		}
		if strings.HasPrefix(r.Path, "/v1/") {
			handlers = append(handlers, knownQuery(r.Method, r.Path))
		}
		s.engine.Handle(r.Method, r.Path, append(handlers, r.Handler)...)
	}
	return s, nil
}

// Route is one entry of the route table.
type Route struct {
	Method  string
	Path    string // gin syntax: /v1/me/wallet/orders/:order_id/refund
	Auth    bool   // needs a bearer token
	Handler gin.HandlerFunc
	MaxBody int64 // request body limit; 0 is the API's 64 KiB
}

func (r Route) maxBody() int64 {
	if r.MaxBody > 0 {
		return r.MaxBody
	}
	return maxBody
}

// routes is the whole API in one table.
func (s *Server) routes() []Route {
	routes := []Route{
		{http.MethodGet, "/healthz", false, s.healthz, 0},
		{http.MethodGet, "/readyz", false, s.readyz, 0},
		{http.MethodGet, "/v1/plans", false, s.listPlans, 0},
		{http.MethodGet, "/v1/me/payment-methods", true, s.listPaymentMethods, 0},
		{http.MethodPost, "/v1/me/payment-methods", true, s.createSetupSession, 0},
		{http.MethodGet, "/v1/me/wallet/orders", true, s.listOrders, 0},
		{http.MethodPost, "/v1/me/wallet/orders", true, s.placeOrder, 0},
		{http.MethodGet, "/v1/me/wallet/orders/:order_id", true, s.getOrder, 0},
		{http.MethodPost, "/v1/me/wallet/orders/:order_id/refund", true, s.refundOrder, 0},
		{http.MethodGet, "/v1/me/wallet/subscriptions", true, s.listSubscriptions, 0},
		{http.MethodGet, "/v1/me/wallet/subscriptions/:subscription_id", true, s.getSubscription, 0},
		{http.MethodDelete, "/v1/me/wallet/subscriptions/:subscription_id", true, s.cancelSubscription, 0},
		{http.MethodPatch, "/v1/me/wallet/subscriptions/:subscription_id", true, s.updateSubscription, 0},
	}
	if s.cfg.Webhooks != nil {
		routes = append(routes, Route{http.MethodPost, "/v1/webhooks/stripe", false, s.stripeWebhook, maxWebhookBody})
	}
	if s.cfg.Clocks != nil {
		routes = append(routes,
			Route{http.MethodGet, "/v1/me/test_clock", true, s.getTestClock, 0},
			Route{http.MethodPost, "/v1/me/test_clock/advance", true, s.advanceTestClock, 0})
	}
	if s.cfg.MetricsHandler != nil {
		routes = append(routes, Route{http.MethodGet, "/metrics", false, gin.WrapH(s.cfg.MetricsHandler), 0})
	}
	if s.cfg.Sandbox != nil {
		page := gin.WrapH(s.cfg.Sandbox)
		routes = append(routes,
			Route{http.MethodGet, "/sandbox/setup/:session_id", false, page, 0},
			Route{http.MethodPost, "/sandbox/setup/:session_id", false, page, 0})
	}
	return routes
}

// Routes lists the served routes (for the OpenAPI document's test).
func (s *Server) Routes() []Route { return s.routes() }

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Listen binds Config.Addr unless a Listener was given; Addr then tells
// the actual address.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, once it has a listener.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then stops taking connections and lets
// in-flight requests finish for up to ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http: drain: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration) {}
