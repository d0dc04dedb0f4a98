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
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Rebuild the read models aside and compare them with the live ones (works while serve runs)",
		Long: "verify folds the log, up to the live read models' checkpoint, into a fresh copy and compares\n" +
			"every row. Exit status 0: equal. Exit status 1: the differences are listed on stdout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openLogReadOnly(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			diffs, err := projections.Verify(cmd.Context(), store, cfg.path("readmodels.db"), progress(cmd.ErrOrStderr(), "verifying read models"))
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
