package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func projectionsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "projections", Short: "Manage the read models"}
	cfg := configFromEnv()
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Drop the read models and fold the whole log again (refused while serve runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openLogReadOnly(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			bar := progress(cmd.ErrOrStderr(), "rebuilding read models")
			if err := projections.Rebuild(cmd.Context(), store, cfg.path("readmodels.db"), bar); err != nil {
				return err // ErrLocked's message names the running serve
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "read models rebuilt from the log")
			return nil
		},
	}
	cfg.bindFlags(rebuild.Flags(), false)
	cmd.AddCommand(rebuild)
	return cmd
}

func verifyCommand() *cobra.Command {
	cfg := configFromEnv()
	var asOf string
	cmd := &cobra.Command{
		Use:   "verify [--as-of TIME]",
		Short: "Rebuild the read models aside and compare them with the live ones (works while serve runs)",
		Long: "verify folds the log, up to the live read models' checkpoint, into a fresh copy and compares\n" +
			"every row. With --as-of, it folds the events recorded up to that RFC 3339 time instead and compares\n" +
			"it with every user's lists as of then (the API's as_of reads).\n" +
			"Exit status 0: equal. Exit status 1: the differences are listed on stdout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var at time.Time
			if asOf != "" {
				var err error
				if at, err = projections.ParseAsOf(asOf, time.Now()); err != nil {
					return fmt.Errorf("--as-of: %w", err)
				}
			}
			store, err := openLogReadOnly(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			var diffs []string
			if at.IsZero() {
				diffs, err = projections.Verify(cmd.Context(), store, cfg.path("readmodels.db"), progress(cmd.ErrOrStderr(), "verifying read models"))
			} else {
				diffs, err = projections.VerifyAsOf(cmd.Context(), store, cfg.path("readmodels.db"), at, progress(cmd.ErrOrStderr(), "verifying as-of reads"))
			}
			if err != nil {
				return err
			}
			for _, d := range diffs {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if len(diffs) > 0 {
				return fmt.Errorf("read models differ from the log in %d places", len(diffs))
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "read models match the log")
			return nil
		},
	}
	cfg.bindFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&asOf, "as-of", "", "compare the lists as of this RFC 3339 time with the log folded up to it")
	return cmd
}

// openLogReadOnly opens the event store for reading beside a running serve.
func openLogReadOnly(ctx context.Context, cfg Config) (eventstore.Store, error) {
	return openStore(ctx, cfg, true, time.Now, newLogger(cfg.LogFormat))
}

// progress returns a callback drawing a progress bar on w for a long fold.
func progress(w io.Writer, what string) func(done, total uint64) {
	var bar *progressbar.ProgressBar
	return func(done, total uint64) {
		if bar == nil {
			bar = progressbar.NewOptions64(int64(total),
				progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		}
		_ = bar.Set64(int64(done))
	}
}
