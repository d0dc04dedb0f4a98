// Command billing is the billing ledger service and its operators' and
// auditors' tools, as subcommands of one binary. It parses configuration,
// composes the parts, and runs them; everything else lives in the packages.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	tuneGC()
	syncWithFdatasync()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "billing:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "billing",
		Short:         "The billing ledger of the robot labor platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), tokenCommand(), eventsCommand(), projectionsCommand(), verifyCommand(), auditCommand(), historyCommand(), healthCommand())
	return root
}

func serveCommand() *cobra.Command {
	cfg := configFromEnv()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: the HTTP API, projections, reconciler and relay on the event store",
		Long: "Run the service: the HTTP API, projections, reconciler and relay on the event store.\n" +
			"Every flag has an environment variable, named in its help.\n\n" + envHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			sink := newLogSink(os.Stderr, logFlushEvery)
			defer sink.Close() //nolint:errcheck // stderr is gone: there is nowhere to report it
			m := NewMain(cfg, slog.New(flushing{newHandler(cfg.LogFormat, sink), sink}))
			if err := m.Open(cmd.Context()); err != nil {
				m.Close()
				return err
			}
			runErr := m.Run(cmd.Context())
			if err := m.Close(); runErr == nil {
				runErr = err
			}
			return runErr
		},
	}
	cfg.bindFlags(cmd.Flags(), true)
	return cmd
}

// newLogger logs to stderr in format (text or json), line by line.
func newLogger(format string) *slog.Logger { return slog.New(newHandler(format, os.Stderr)) }

func newHandler(format string, w io.Writer) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, nil)
	}
	return slog.NewTextHandler(w, nil)
}
