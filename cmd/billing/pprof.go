package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// openPprof binds BILLING_PPROF_ADDR, when set, for net/http/pprof: CPU,
// heap, goroutine and mutex profiles of a running serve. It listens on
// loopback only, since profiles show internals (and a profile costs CPU).
func (m *Main) openPprof(context.Context) error {
	if m.Config.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (BILLING_PPROF_ADDR): %w", m.Config.PprofAddr, err)
	}
	m.pprofListener = ln
	return nil
}

// servePprof serves the profiles until ctx ends.
func (m *Main) servePprof(ctx context.Context) error {
	if m.pprofListener == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)} // in order with serve's other lines
	m.Logger.Info("pprof serving", "addr", "http://"+m.pprofListener.Addr().String()+"/debug/pprof/")
	go func() {
		<-ctx.Done()
		srv.Close() //nolint:errcheck // stopping
	}()
	if err := srv.Serve(m.pprofListener); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("pprof: %w", err)
	}
	return nil
}

// loopbackAddr reports whether addr (host:port) names a loopback host.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
