package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// healthCommand probes a running serve: what a container healthcheck runs
// in an image with no shell or HTTP client.
func healthCommand() *cobra.Command {
	cfg := configFromEnv()
	var ready bool
	cmd := &cobra.Command{
		Use:   "health [--ready]",
		Short: "Exit 0 when the serve on BILLING_HTTP_ADDR answers /healthz (or, with --ready, /readyz) with 200",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			return probe(cmd.Context(), cfg.HTTPAddr, path)
		},
	}
	cmd.Flags().StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "the serve's address (env BILLING_HTTP_ADDR)")
	cmd.Flags().BoolVar(&ready, "ready", false, "probe readiness (/readyz) instead of liveness")
	return cmd
}

func probe(ctx context.Context, addr, path string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("health: address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1" // listening everywhere: ask locally
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d", path, resp.StatusCode)
	}
	return nil
}
