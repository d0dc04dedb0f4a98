package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/relay"
	"github.com/spf13/cobra"
)

func eventsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "The ledger's events, for auditors"}
	cfg := configFromEnv()
	var stream, since, until string
	export := &cobra.Command{
		Use:   "export [--stream NAME] [--since TIME] [--until TIME]",
		Short: "Write the log, or part of it, as NDJSON on stdout in log order (works beside a running serve)",
		Long: "Each line is one event in exactly the JSON published to NATS (docs/events.md).\n" +
			"--since and --until are RFC 3339 times bounding recorded_at (since inclusive, until exclusive).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseExportFilter(stream, since, until)
			if err != nil {
				return err
			}
			store, err := openLogReadOnly(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			return export(cmd.Context(), store, f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cfg.bindFlags(export.Flags(), false)
	export.Flags().StringVar(&stream, "stream", "", "only this stream: an order or subscription id (ord_…, sub_…), a user id (their wallet), or a stream name (order-<uuid>, catalog)")
	export.Flags().StringVar(&since, "since", "", "only events recorded at or after this RFC 3339 time")
	export.Flags().StringVar(&until, "until", "", "only events recorded before this RFC 3339 time")
	cmd.AddCommand(export)
	return cmd
}

type exportFilter struct {
	stream       string
	since, until time.Time // zero: unbounded
}

// streamOf is the stream --stream names: an API id (ord_…, sub_…), a
// stream name as the log has it (order-<uuid>, subscription-<uuid>,
// wallet-<user id>, clock-<user id>, provider-…, catalog), or else a user id,
// whose wallet is meant.
func streamOf(arg string) (string, error) {
	switch {
	case arg == "":
		return "", nil
	case strings.HasPrefix(arg, "ord_"):
		id, err := domain.ParseOrderID(arg)
		if err != nil {
			return "", fmt.Errorf("--stream %q is not an order id (ord_ and 32 hex digits)", arg)
		}
		return id.Stream(), nil
	case strings.HasPrefix(arg, "sub_"):
		id, err := domain.ParseSubscriptionID(arg)
		if err != nil {
			return "", fmt.Errorf("--stream %q is not a subscription id (sub_ and 32 hex digits)", arg)
		}
		return id.Stream(), nil
	case arg == domain.CatalogStream || arg == domain.AuditStream:
		return arg, nil
	}
	for _, prefix := range []string{"order-", "subscription-", "wallet-", "clock-", "provider-"} {
		if strings.HasPrefix(arg, prefix) {
			return arg, nil
		}
	}
	return domain.WalletStream(arg), nil
}

func parseExportFilter(stream, since, until string) (exportFilter, error) {
	name, err := streamOf(stream)
	if err != nil {
		return exportFilter{}, err
	}
	f := exportFilter{stream: name}
	for _, p := range []struct {
		name, value string
		into        *time.Time
	}{{"--since", since, &f.since}, {"--until", until, &f.until}} {
		if p.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.value)
		if err != nil {
			return f, fmt.Errorf("%s %q is not an RFC 3339 time (2026-11-24T17:00:00Z)", p.name, p.value)
		}
		*p.into = t
	}
	if !f.since.IsZero() && !f.until.IsZero() && !f.until.After(f.since) {
		return f, fmt.Errorf("--until must be after --since")
	}
	return f, nil
}

func (f exportFilter) keep(e eventstore.RecordedEvent) bool {
	return (f.since.IsZero() || !e.RecordedAt.Before(f.since)) && (f.until.IsZero() || e.RecordedAt.Before(f.until))
}

// export streams the log page by page: constant memory for any size.
func export(ctx context.Context, store eventstore.Store, f exportFilter, stdout, stderr io.Writer) error {
	out := bufio.NewWriterSize(stdout, 256<<10)
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	bar := progress(stderr, "exporting events")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, read := readAhead(ctx, pager(store, f.stream))
	for page := range pages {
		for _, e := range page {
			if !f.keep(e) {
				continue
			}
			line, err := relay.Encode(e)
			if err != nil {
				return err
			}
			out.Write(line)
			if err := out.WriteByte('\n'); err != nil {
				return err // stdout closed: stop
			}
		}
		bar(uint64(page[len(page)-1].Position), uint64(max(head, page[len(page)-1].Position)))
	}
	if err := <-read; err != nil {
		return err
	}
	return out.Flush()
}

// readAhead reads the pages of next on another goroutine, one page ahead
// of the caller, until next returns none or fails; then it closes pages
// and sends next's error (nil at the end) on the second channel.
func readAhead(ctx context.Context, next func(context.Context) ([]eventstore.RecordedEvent, error)) (<-chan []eventstore.RecordedEvent, <-chan error) {
	pages, done := make(chan []eventstore.RecordedEvent, 1), make(chan error, 1)
	go func() {
		defer close(pages)
		for {
			page, err := next(ctx)
			if err != nil || len(page) == 0 {
				done <- err
				return
			}
			select {
			case pages <- page:
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
	}()
	return pages, done
}

const exportPage = 1000

// pager returns successive pages of the whole log, or of one stream.
func pager(store eventstore.Store, stream string) func(context.Context) ([]eventstore.RecordedEvent, error) {
	if stream == "" {
		pos := eventstore.Start
		return func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
			evs, err := store.ReadAll(ctx, pos, exportPage)
			if len(evs) > 0 {
				pos = evs[len(evs)-1].Position
			}
			return evs, err
		}
	}
	rev, done := uint64(0), false
	return func(ctx context.Context) ([]eventstore.RecordedEvent, error) {
		if done {
			return nil, nil
		}
		evs, err := store.ReadStream(ctx, stream, eventstore.Forwards, rev, exportPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return nil, fmt.Errorf("the log has no stream %s: --stream takes an order id (ord_…), a subscription id (sub_…), "+
				"a user id (their wallet), or a stream name (order-<uuid>, subscription-<uuid>, wallet-<user id>, catalog)", stream)
		}
		if err != nil {
			return nil, fmt.Errorf("export stream %s: %w", stream, err)
		}
		if len(evs) < exportPage {
			done = true
		}
		if len(evs) > 0 {
			rev = evs[len(evs)-1].Revision + 1
		}
		return evs, nil
	}
}
