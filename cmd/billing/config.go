package main

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
)

// Config is the service's configuration: environment variables of
// product.md, which flags of the same meaning override.
type Config struct {
	HTTPAddr        string
	DataDir         string
	LogFormat       string // text or json
	ShutdownTimeout time.Duration
}

// configFromEnv reads the environment, with product.md's defaults.
func configFromEnv() Config {
	return Config{
		HTTPAddr:        env("BILLING_HTTP_ADDR", "127.0.0.1:8080"),
		DataDir:         env("BILLING_DATA_DIR", "./data"),
		LogFormat:       env("BILLING_LOG_FORMAT", "text"),
		ShutdownTimeout: 10 * time.Second,
	}
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
		fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP listen address (env BILLING_HTTP_ADDR)")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may drain on SIGTERM")
	}
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
	}
	return nil
}

// EventStorePath is the embedded event store's file.
func (c *Config) EventStorePath() string { return filepath.Join(c.DataDir, "events.db") }
