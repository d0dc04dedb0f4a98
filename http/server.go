package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Config is what the HTTP server needs.
type Config struct {
	Addr   string // listen address; port 0 picks a free one
	Logger *slog.Logger
	Plans  PlanSource
	// Ready reports whether the service's dependencies are ready (/readyz).
	Ready func(ctx context.Context) error
	// ShutdownTimeout bounds how long in-flight requests may drain. Default 10s.
	ShutdownTimeout time.Duration
}

// Validate reports the first missing part.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("http: Addr is required")
	case c.Logger == nil:
		return errors.New("http: Logger is required")
	case c.Plans == nil:
		return errors.New("http: Plans is required")
	case c.Ready == nil:
		return errors.New("http: Ready is required")
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
	s := &Server{cfg: cfg, engine: gin.New()}
	s.engine.HandleMethodNotAllowed = true
	s.engine.ContextWithFallback = true
	s.engine.Use(requestID, accessLog(cfg.Logger), recovery(cfg.Logger))
	s.engine.NoRoute(noRoute)
	s.engine.NoMethod(noMethod)
	for _, r := range s.routes() {
		s.engine.Handle(r.Method, r.Path, r.Handler)
	}
	return s, nil
}

// Route is one entry of the route table.
type Route struct {
	Method  string
	Path    string // gin syntax: /v1/me/wallet/orders/:order_id/refund
	Handler gin.HandlerFunc
}

// routes is the whole API in one table.
func (s *Server) routes() []Route {
	return []Route{
		{http.MethodGet, "/healthz", s.healthz},
		{http.MethodGet, "/readyz", s.readyz},
		{http.MethodGet, "/v1/plans", s.listPlans},
	}
}

// Routes lists the served routes (for the OpenAPI document's test).
func (s *Server) Routes() []Route { return s.routes() }

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Listen binds the listen address; Addr then tells the actual one.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, once Listen returned.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then stops taking connections and lets
// in-flight requests finish for up to ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
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
