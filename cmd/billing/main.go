// Command billing is the billing ledger service and its operators' and
// auditors' tools, as subcommands of one binary. It parses configuration,
// composes the parts, and runs them; everything else lives in the packages.
package main

import (
	"context"
	"fmt"
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
			m := NewMain(cfg, newLogger(cfg.LogFormat))
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

func newLogger(format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
