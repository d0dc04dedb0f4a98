package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/robotlabor/billing/audit"
	"github.com/robotlabor/billing/eventstore"
	"github.com/spf13/cobra"
)

// sealEvery is how often serve seals the log while events arrive.
const sealEvery = time.Minute

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Tamper evidence: seal the log, verify its hash chains and seals"}
	cfg := configFromEnv()
	var seals string
	verify := &cobra.Command{
		Use:   "verify [FILE|-] [--seals FILE]",
		Short: "Check the hash chains and seals of an export file, of stdin (-), or of the live log (works beside a running serve)",
		Long: "Recomputes every event's hash, every stream's chain and every seal from the bytes, with no key\n" +
			"(docs/events.md, Tamper evidence). Exit 0 with the counts, or non-zero naming the first event\n" +
			"whose bytes, order or presence disagree. A file must be a whole-log export (billing events export).\n" +
			"--seals names seals kept outside the service (e.g. the billing.audit.sealed messages of NATS, as\n" +
			"NDJSON): each must be in the log as kept, so a log cut short after a seal is caught too.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := audit.NewVerifier()
			if seals != "" {
				pinned, err := readPinned(seals)
				if err != nil {
					return err
				}
				v.Pinned = pinned
			}
			start := time.Now()
			var err error
			if len(args) == 0 {
				err = verifyLive(cmd.Context(), cfg, v, cmd.ErrOrStderr())
			} else {
				err = verifyFile(args[0], cmd.InOrStdin(), v, cmd.ErrOrStderr())
			}
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			rep, err := v.Finish()
			if err != nil {
				return fmt.Errorf("audit verify: %w", err)
			}
			printReport(cmd.OutOrStdout(), rep, time.Since(start))
			return nil
		},
	}
	cfg.bindFlags(verify.Flags(), false)
	verify.Flags().StringVar(&seals, "seals", "", "a file of seals kept outside the service (NDJSON of audit.sealed events) that the log must hold")
	seal := &cobra.Command{
		Use:   "seal",
		Short: "Append a seal over the events recorded since the last one (works beside a running serve)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := openStore(cmd.Context(), cfg, false, time.Now, newLogger(cfg.LogFormat))
			if err != nil {
				return err
			}
			defer store.Close()
			seals, err := (&audit.Sealer{Store: store, Now: time.Now}).SealAll(cmd.Context())
			for _, s := range seals {
				fmt.Fprintf(cmd.OutOrStdout(), "seal %d: %d events in %d streams, after position %d up to %d, digest %s\n",
					s.Seal, s.Events, s.Streams, s.FromPosition, s.ToPosition, s.Digest)
			}
			if err != nil {
				return fmt.Errorf("audit seal: %w", err)
			}
			if len(seals) == 0 {
				last, _, err := audit.LastSeal(cmd.Context(), store)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "nothing to seal: no event since seal %d (up to position %d)\n", last.Seal, last.ToPosition)
			}
			return nil
		},
	}
	cfg.bindFlags(seal.Flags(), false)
	cmd.AddCommand(verify, seal)
	return cmd
}

func verifyLive(ctx context.Context, cfg Config, v *audit.Verifier, stderr io.Writer) error {
	store, err := openLogReadOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	bar := progress(stderr, "verifying the log")
	return audit.VerifyStore(ctx, store, v, func(p eventstore.Position) { bar(uint64(p), uint64(max(p, head))) })
}

func verifyFile(name string, stdin io.Reader, v *audit.Verifier, stderr io.Writer) error {
	in, size := stdin, int64(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	if size == 0 {
		return audit.ReadExport(in, v.Add)
	}
	r := &countingReader{r: in, bar: progress(stderr, "verifying "+name), size: uint64(size)}
	return audit.ReadExport(r, v.Add)
}

// countingReader draws the bytes read from a file on a progress bar.
type countingReader struct {
	r    io.Reader
	bar  func(done, total uint64)
	n    uint64
	size uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	c.bar(c.n, c.size)
	return n, err
}

func readPinned(name string) (map[uint64]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pinned, err := audit.PinnedSeals(f)
	if err != nil {
		return nil, fmt.Errorf("--seals %s: %w", name, err)
	}
	if len(pinned) == 0 {
		return nil, fmt.Errorf("--seals %s holds no audit.sealed event", name)
	}
	return pinned, nil
}

func printReport(w io.Writer, rep audit.Report, took time.Duration) {
	fmt.Fprintf(w, "ok: %d events in %d streams, %d seals checked in %s (%.0f events/s)\n",
		rep.Events, rep.Streams, rep.Seals, took.Round(time.Millisecond), float64(rep.Events)/max(took.Seconds(), 1e-9))
	if rep.Seals > 0 {
		s := rep.LastSeal
		fmt.Fprintf(w, "last seal: %d, up to position %d, sealed %s, digest %s\n", s.Seal, s.ToPosition, s.SealedAt.Format(time.RFC3339), s.Digest)
	}
	if rep.Unsealed > 0 {
		fmt.Fprintf(w, "%d events after the last seal: their chains hold; the next seal pins them\n", rep.Unsealed)
	}
	if rep.Unhashed > 0 {
		fmt.Fprintf(w, "%d events recorded before the log was hashed: pinned by their successors and the seals\n", rep.Unhashed)
	}
}
