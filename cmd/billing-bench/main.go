// Command billing-bench is a load generator for a running billing service.
//
// Each virtual user is a distinct user of the API, with a bearer token the
// tool mints itself with the service's key (-jwt-secret, or the key in
// -data-dir), so no login is needed. The default scenario, orders, is the
// real flow: save a card through the hosted sandbox page, then place orders
// in a loop, listing them every -list-every orders and refunding every
// -refund-every paid order. The list scenario gives every user a full page
// of orders, then measures GET /v1/me/wallet/orders?limit=20 alone. The
// renewals scenario (sandbox only) has every user subscribe to the monthly
// plan, then every user advance their test clock a month at once: each
// advance answers once its renewal is charged and recorded, so renewals/s
// is users over the advance phase's time.
//
// Latencies are recorded per route pattern in HDR histograms, one per
// goroutine, merged when a phase ends. Requests started during -warmup are
// not counted. The run stops by itself after -duration; ctrl-C stops it
// early and still prints the report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is the tool's settings, one flag each.
type config struct {
	URL         string
	Scenario    string // "orders", "list" or "renewals"
	Users       int
	Duration    time.Duration
	Warmup      time.Duration
	Orders      int // per user; 0: until the duration ends
	RefundEvery int // refund every K-th paid order; 0: never
	ListEvery   int // list orders after every K-th order; 0: never
	CustomEvery int // every K-th order buys the custom-amount plan; 0: never
	Timeout     time.Duration
	JWTSecret   string
	DataDir     string
	RunID       string
	JSON        bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "billing-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "billing-bench:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; the key's defaults come from the
// environment variables the service reads.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("billing-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "base URL of the running service")
	fs.StringVar(&cfg.Scenario, "scenario", "orders", "orders: save a card, then order, list and refund; list: fill a page of orders, then GET it; renewals: subscribe, then advance every user's test clock a month at once")
	fs.IntVar(&cfg.Users, "users", 64, "concurrent virtual users, each a distinct user id")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long the measured load runs, after the warm-up")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before the measurement, excluded from the figures")
	fs.IntVar(&cfg.Orders, "orders", 0, "orders per user, then the user stops (0: until -duration ends, which still bounds the run)")
	fs.IntVar(&cfg.RefundEvery, "refund-every", 10, "refund every K-th paid order (0: never)")
	fs.IntVar(&cfg.ListEvery, "list-every", 5, "list the user's orders after every K-th order (0: never)")
	fs.IntVar(&cfg.CustomEvery, "custom-every", 4, "every K-th order buys the custom-amount plan with an amount (0: never)")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.StringVar(&cfg.JWTSecret, "jwt-secret", os.Getenv("BILLING_JWT_SECRET"), "the service's HS256 key (env BILLING_JWT_SECRET)")
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("BILLING_DATA_DIR", "./data"), "the service's data dir, whose jwt.key signs the tokens when -jwt-secret is empty (env BILLING_DATA_DIR)")
	fs.StringVar(&cfg.RunID, "run-id", "", "names the users bench-<run id>-<n>; reuse one to bench the same users again (default: random)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, cfg.Validate()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Validate reports the first unusable setting.
func (c config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("-url %q is not an http(s) URL", c.URL)
	case c.Scenario != "orders" && c.Scenario != "list" && c.Scenario != "renewals":
		return fmt.Errorf("-scenario %q: want orders, list or renewals", c.Scenario)
	case c.Users < 1:
		return errors.New("-users must be at least 1")
	case c.Duration <= 0 || c.Timeout <= 0:
		return errors.New("-duration and -timeout must be positive")
	case c.Warmup < 0 || c.Orders < 0 || c.RefundEvery < 0 || c.ListEvery < 0 || c.CustomEvery < 0:
		return errors.New("-warmup, -orders, -refund-every, -list-every and -custom-every must not be negative")
	case c.JWTSecret == "" && c.DataDir == "":
		return errors.New("-jwt-secret or -data-dir is needed to sign tokens")
	}
	return nil
}

// run benches the service at cfg.URL and writes the report to stdout,
// progress to stderr. An interrupted run still reports what it measured.
func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.RunID == "" {
		cfg.RunID = randomID()
	}
	users, err := newUsers(cfg, newAPI(cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "billing-bench: scenario %s, %d users bench-%s-*, %s\n", cfg.Scenario, cfg.Users, cfg.RunID, cfg.URL)
	results, runErr := runScenario(ctx, cfg, users, stderr)
	rep := buildReport(cfg, results, ctx.Err() != nil)
	if cfg.JSON {
		err = writeJSON(stdout, rep)
	} else {
		err = writeText(stdout, rep)
	}
	return errors.Join(runErr, err)
}
