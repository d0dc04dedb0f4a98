package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Config is the service's configuration: environment variables of
// product.md, which flags of the same meaning override.
type Config struct {
	HTTPAddr        string
	DataDir         string
	PublicURL       string // base of URLs handed to browsers
	JWTSecret       string // empty: a key generated once into DataDir
	PlansFile       string // empty: the built-in catalog
	EventStoreURL   string // empty: embedded in DataDir; sqlite:PATH: embedded at PATH; esdb://, kurrentdb://: EventStoreDB
	SandboxPath     string // the sandbox provider's state; empty: in DataDir
	NATS            NATSConfig
	Stripe          StripeConfig
	LogFormat       string // text or json
	OutcomeWait     time.Duration
	ShutdownTimeout time.Duration
	PprofAddr       string // empty: no profiling endpoint; else a loopback host:port
	// Dunning is when a declined renewal the ledger bills is charged
	// again, after the period's end; nil when BILLING_DUNNING_SCHEDULE
	// does not parse (Validate says so).
	Dunning []time.Duration
}

// StripeConfig selects Stripe as the payment provider (docs/stripe.md).
type StripeConfig struct {
	SecretKey      string   // empty: the sandbox
	WebhookSecrets []string // whsec_…; several during a rotation
	APIBase        string   // another API URL (stripe-mock in tests)
	Timeout        time.Duration
}

// configFromEnv reads the environment, with product.md's defaults.
func configFromEnv() Config {
	return Config{
		HTTPAddr:      env("BILLING_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:       env("BILLING_DATA_DIR", "./data"),
		PublicURL:     os.Getenv("BILLING_PUBLIC_URL"),
		JWTSecret:     os.Getenv("BILLING_JWT_SECRET"),
		PlansFile:     os.Getenv("BILLING_PLANS_FILE"),
		EventStoreURL: os.Getenv("BILLING_EVENTSTORE_URL"),
		SandboxPath:   os.Getenv("BILLING_SANDBOX_PATH"),
		Stripe: StripeConfig{
			SecretKey:      os.Getenv("BILLING_STRIPE_SECRET_KEY"),
			WebhookSecrets: list(os.Getenv("BILLING_STRIPE_WEBHOOK_SECRET")),
			APIBase:        os.Getenv("BILLING_STRIPE_API_BASE"),
			Timeout:        envDuration("BILLING_STRIPE_TIMEOUT", 30*time.Second),
		},
		NATS: NATSConfig{
			URL:      os.Getenv("BILLING_NATS_URL"),
			Listen:   env("BILLING_NATS_LISTEN", "127.0.0.1:4222"),
			Replicas: envInt("BILLING_NATS_REPLICAS", 1),
			Creds:    os.Getenv("BILLING_NATS_CREDS"),
			CAFile:   os.Getenv("BILLING_NATS_CA"),
			CertFile: os.Getenv("BILLING_NATS_CERT"),
			KeyFile:  os.Getenv("BILLING_NATS_KEY"),
		},
		LogFormat:       env("BILLING_LOG_FORMAT", "text"),
		OutcomeWait:     envDuration("BILLING_OUTCOME_WAIT", 5*time.Second),
		ShutdownTimeout: envDuration("BILLING_SHUTDOWN_TIMEOUT", 10*time.Second),
		PprofAddr:       os.Getenv("BILLING_PPROF_ADDR"),
		Dunning:         dunning(env("BILLING_DUNNING_SCHEDULE", "24h,72h,120h")),
	}
}

// dunning parses a schedule of retries after a period's end: Go durations,
// comma-separated, each after the one before ("24h,72h,120h"); an empty
// list means no retry. nil: it does not parse.
func dunning(v string) []time.Duration {
	out := []time.Duration{}
	for _, item := range list(v) {
		d, err := time.ParseDuration(item)
		if err != nil || d <= 0 || len(out) > 0 && d <= out[len(out)-1] {
			return nil
		}
		out = append(out, d)
	}
	return out
}

// NATSConfig is where the event stream goes.
type NATSConfig struct {
	URL      string // empty: run nats-server embedded
	Listen   string // the embedded server's address
	Replicas int    // of the BILLING stream
	Creds    string // a .creds file (JWT + nkey), as the nats CLI takes
	CAFile   string // TLS: the CA that signed the servers' certificates
	CertFile string // TLS client certificate and key, when servers require one
	KeyFile  string
}

// list splits a comma-separated value, dropping empty items.
func list(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// envInt reads an integer; an unparsable value is reported by Validate
// through the -1 it leaves.
func envInt(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// envDuration reads a Go duration ("5s"); an unparsable value is reported
// by Validate through the zero it leaves.
func envDuration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return -1
	}
	return d
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// bindFlags lets flags override the environment for the given fields.
func (c *Config) bindFlags(fs *pflag.FlagSet, serve bool) {
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory (env BILLING_DATA_DIR)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json (env BILLING_LOG_FORMAT)")
	if serve {
		c.bindJWTSecret(fs)
		fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address (env BILLING_HTTP_ADDR)")
		fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base of URLs handed to browsers (env BILLING_PUBLIC_URL; default http:// + the HTTP address)")
		fs.StringVar(&c.PlansFile, "plans-file", c.PlansFile, "plan catalog file (env BILLING_PLANS_FILE; default: the built-in catalog)")
		fs.StringVar(&c.NATS.URL, "nats-url", c.NATS.URL, "external NATS with JetStream (env BILLING_NATS_URL; default: run nats-server embedded)")
		fs.StringVar(&c.NATS.Listen, "nats-listen", c.NATS.Listen, "where the embedded nats-server listens; port 0 picks one (env BILLING_NATS_LISTEN)")
		fs.DurationVar(&c.OutcomeWait, "outcome-wait", c.OutcomeWait, "how long POSTs wait for a payment or refund outcome (env BILLING_OUTCOME_WAIT)")
		fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve net/http/pprof on this loopback address (env BILLING_PPROF_ADDR; default: off)")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may drain on SIGTERM (env BILLING_SHUTDOWN_TIMEOUT)")
	}
}

// bindJWTSecret adds --jwt-secret, for the commands that sign or check
// tokens.
func (c *Config) bindJWTSecret(fs *pflag.FlagSet) {
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 key for bearer tokens (env BILLING_JWT_SECRET; default: generated once into the data dir)")
}

// envOnly are the settings serve reads from the environment alone (secrets
// stay off command lines, which other users of the machine can read), as
// serve --help lists them.
var envOnly = []struct{ name, meaning string }{
	{"BILLING_EVENTSTORE_URL", "sqlite:PATH (the embedded store elsewhere) or esdb://, kurrentdb:// (EventStoreDB); default events.db in the data dir"},
	{"BILLING_SANDBOX_PATH", "the sandbox provider's state; default sandbox.db in the data dir"},
	{"BILLING_DUNNING_SCHEDULE", "when declined renewals are retried after the period end; default 24h,72h,120h"},
	{"BILLING_STRIPE_SECRET_KEY", "Stripe as the payment provider (sk_…); default: the sandbox"},
	{"BILLING_STRIPE_WEBHOOK_SECRET", "Stripe's webhook signing secret(s), comma-separated; required with Stripe"},
	{"BILLING_STRIPE_API_BASE", "another Stripe API base (stripe-mock)"},
	{"BILLING_STRIPE_TIMEOUT", "how long one Stripe call may take; default 30s"},
	{"BILLING_NATS_REPLICAS", "replicas of the BILLING stream; default 1"},
	{"BILLING_NATS_CREDS", "a .creds file for NATS"},
	{"BILLING_NATS_CA, BILLING_NATS_CERT, BILLING_NATS_KEY", "TLS to NATS: the servers' CA; a client certificate and key"},
}

// envHelp is the help text's list of envOnly.
func envHelp() string {
	var b strings.Builder
	b.WriteString("Settings read from the environment only (docs/operations.md has every setting):\n")
	for _, e := range envOnly {
		fmt.Fprintf(&b, "  %s\n      %s\n", e.name, e.meaning)
	}
	return b.String()
}

// Validate reports the first unusable setting.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("config: data dir is empty (BILLING_DATA_DIR)")
	case c.HTTPAddr == "":
		return errors.New("config: HTTP address is empty (BILLING_HTTP_ADDR)")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return errors.New("config: log format must be text or json (BILLING_LOG_FORMAT)")
	case c.validateEventStoreURL() != nil:
		return c.validateEventStoreURL()
	case c.NATS.Replicas < 1 || c.NATS.Replicas > 5:
		return errors.New("config: BILLING_NATS_REPLICAS must be 1 to 5")
	case (c.NATS.CertFile == "") != (c.NATS.KeyFile == ""):
		return errors.New("config: BILLING_NATS_CERT and BILLING_NATS_KEY go together")
	case c.Stripe.SecretKey != "" && len(c.Stripe.WebhookSecrets) == 0:
		return errors.New("config: with BILLING_STRIPE_SECRET_KEY, BILLING_STRIPE_WEBHOOK_SECRET is required: cards are saved and outcomes confirmed through webhooks")
	case c.Stripe.Timeout <= 0:
		return errors.New("config: BILLING_STRIPE_TIMEOUT must be a positive duration such as 30s")
	case c.PprofAddr != "" && !loopbackAddr(c.PprofAddr):
		return errors.New("config: BILLING_PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060: profiles show the service's internals")
	case c.OutcomeWait <= 0:
		return errors.New("config: outcome wait must be a positive duration such as 5s (BILLING_OUTCOME_WAIT)")
	case c.ShutdownTimeout <= 0:
		return errors.New("config: BILLING_SHUTDOWN_TIMEOUT must be a positive duration such as 10s")
	case c.Dunning == nil:
		return errors.New("config: BILLING_DUNNING_SCHEDULE must be increasing positive durations after the period end, such as 24h,72h,120h")
	}
	return nil
}

// publicURL is where browsers reach this service.
func (c *Config) publicURL(listening string) (string, error) {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/"), nil
	}
	host, port, err := net.SplitHostPort(listening)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "", fmt.Errorf("config: serve listens on every interface (%s), so the URLs it hands to browsers (card pages) cannot be derived "+
			"from its address: set BILLING_PUBLIC_URL to where browsers reach it, e.g. http://localhost:%s", listening, port)
	}
	return "http://" + listening, nil
}

// path is a file in the data dir.
func (c *Config) path(name string) string { return filepath.Join(c.DataDir, name) }

// EventStorePath is the embedded event store's file: in the data dir, or
// where BILLING_EVENTSTORE_URL=sqlite:PATH says (several instances on one
// machine sharing one store).
func (c *Config) EventStorePath() string {
	if p, ok := strings.CutPrefix(c.EventStoreURL, "sqlite:"); ok {
		return strings.TrimPrefix(p, "//")
	}
	return c.path("events.db")
}

// sandboxPath is the sandbox provider's state: shared by every instance
// that shares a store, as one Stripe account would be.
func (c *Config) sandboxPath() string {
	if c.SandboxPath != "" {
		return c.SandboxPath
	}
	return c.path("sandbox.db")
}
