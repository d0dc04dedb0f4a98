package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/reconciler"
	"github.com/spf13/cobra"
)

func historyCommand() *cobra.Command {
	cfg := configFromEnv()
	var asOf string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history ord_…|sub_… [--as-of TIME] [--json]",
		Short: "An order's or a subscription's story from the log (works beside a running serve)",
		Long: "Everything the log knows about one order (its events, its subscription's, and the provider notices\n" +
			"that caused any of them) or one subscription (its events, its orders', the notices), in log order:\n" +
			"each event's time, type, cause, request and idempotency key, the provider calls it led to (their\n" +
			"idempotency keys) and the provider's object ids, and the status after it. --as-of stops at that\n" +
			"RFC 3339 time (compared with when each event was recorded).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var until time.Time
			if asOf != "" {
				t, err := time.Parse(time.RFC3339Nano, asOf)
				if err != nil {
					return fmt.Errorf("--as-of %q is not an RFC 3339 time (2026-11-24T17:00:00Z)", asOf)
				}
				until = t
			}
			store, err := openLogReadOnly(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			s, err := tellStory(cmd.Context(), store, args[0], until)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return s.print(cmd.OutOrStdout())
		},
	}
	cfg.bindFlags(cmd.Flags(), false)
	cmd.Flags().StringVar(&asOf, "as-of", "", "stop at this RFC 3339 time")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the story as JSON")
	return cmd
}

// story is what the log knows about one order or subscription.
type story struct {
	ID     string       `json:"id"`
	Kind   string       `json:"kind"` // order or subscription
	AsOf   *time.Time   `json:"as_of,omitempty"`
	Status string       `json:"status"` // after the last event
	Events []storyEvent `json:"events"`
}

// storyEvent is one event of a story, with what an auditor asks of it.
type storyEvent struct {
	Position       uint64            `json:"position"`
	RecordedAt     time.Time         `json:"recorded_at"`
	Stream         string            `json:"stream"`
	Revision       uint64            `json:"revision"`
	Type           string            `json:"type"`
	EventID        string            `json:"event_id"`
	CausationID    string            `json:"causation_id,omitempty"`
	CorrelationID  string            `json:"correlation_id,omitempty"`
	RequestID      string            `json:"request_id,omitempty"`      // the HTTP request that started it
	IdempotencyKey string            `json:"idempotency_key,omitempty"` // of that request
	UserID         string            `json:"user_id,omitempty"`
	ProviderKeys   []string          `json:"provider_keys,omitempty"` // of the provider calls it led to
	ProviderIDs    map[string]string `json:"provider_ids,omitempty"`  // the provider's objects it names
	Status         string            `json:"status"`                  // of the order or subscription after it
}

// knownProviders are the providers whose notices a story looks for.
var knownProviders = []string{"stripe", "sandbox"}

// tellStory gathers the story of id (ord_… or sub_…) up to until (zero:
// all of it).
func tellStory(ctx context.Context, store eventstore.Store, id string, until time.Time) (*story, error) {
	s := &story{ID: id}
	var subject string // the stream whose status the story follows
	switch {
	case strings.HasPrefix(id, "ord_"):
		oid, err := domain.ParseOrderID(id)
		if err != nil {
			return nil, fmt.Errorf("%q is not an order id (ord_ and 32 hex digits)", id)
		}
		s.Kind, subject = "order", oid.Stream()
	case strings.HasPrefix(id, "sub_"):
		sid, err := domain.ParseSubscriptionID(id)
		if err != nil {
			return nil, fmt.Errorf("%q is not a subscription id (sub_ and 32 hex digits)", id)
		}
		s.Kind, subject = "subscription", sid.Stream()
	default:
		return nil, fmt.Errorf("%q is neither an order id (ord_…) nor a subscription id (sub_…)", id)
	}
	g := gatherer{ctx: ctx, store: store, seen: map[uuid.UUID]bool{}, streams: map[string]bool{}}
	own, err := g.stream(subject)
	if err != nil {
		return nil, err
	}
	if len(own) == 0 {
		return nil, fmt.Errorf("the log knows no %s %s", s.Kind, id)
	}
	// The streams it names: an order's subscription (those of its events
	// that name the order), a subscription's orders.
	for _, e := range own {
		for _, name := range namedStreams(s.Kind, e.Data) {
			related, err := g.stream(name)
			if err != nil {
				return nil, err
			}
			for _, r := range related {
				if s.Kind == "subscription" || strings.Contains(string(r.Data), id) {
					g.keep(r)
				}
			}
		}
		g.keep(e)
	}
	if err := g.notices(); err != nil {
		return nil, err
	}
	slices.SortFunc(g.events, func(a, b eventstore.RecordedEvent) int { return cmp.Compare(a.Position, b.Position) })

	status := statusFolder(s.Kind)
	for _, e := range g.events {
		if !until.IsZero() && e.RecordedAt.After(until) {
			break
		}
		if e.Stream == subject {
			de, err := domain.Decode(e.Type, e.Data)
			if err != nil {
				return nil, fmt.Errorf("%s at revision %d: %w", e.Stream, e.Revision, err)
			}
			s.Status = status(de)
		}
		s.Events = append(s.Events, describe(e, s.Status))
	}
	if !until.IsZero() {
		s.AsOf = &until
		if len(s.Events) == 0 {
			return nil, fmt.Errorf("the log knew nothing of %s at %s: its first event was recorded at %s",
				id, until.UTC().Format(time.RFC3339), g.events[0].RecordedAt.UTC().Format(time.RFC3339))
		}
	}
	return s, nil
}

// statusFolder returns a function that folds a subject's events and
// returns its status after each.
func statusFolder(kind string) func(domain.Event) string {
	if kind == "order" {
		var o domain.Order
		return func(e domain.Event) string { o.Apply(e); return string(o.Status) }
	}
	var sub domain.Subscription
	return func(e domain.Event) string { sub.Apply(e); return string(sub.Status) }
}

// namedStreams are the streams an event of a story's subject names: a
// subscription for an order's, the orders for a subscription's.
func namedStreams(kind string, data []byte) []string {
	var ids struct {
		SubscriptionID domain.SubscriptionID `json:"subscription_id"`
		OrderID        domain.OrderID        `json:"order_id"`
		RenewalOrderID domain.OrderID        `json:"renewal_order_id"`
	}
	if json.Unmarshal(data, &ids) != nil {
		return nil
	}
	var out []string
	if kind == "order" && ids.SubscriptionID != "" {
		out = append(out, ids.SubscriptionID.Stream())
	}
	if kind == "subscription" {
		for _, o := range []domain.OrderID{ids.OrderID, ids.RenewalOrderID} {
			if o != "" {
				out = append(out, o.Stream())
			}
		}
	}
	return out
}

// gatherer collects a story's events, each once.
type gatherer struct {
	ctx     context.Context
	store   eventstore.Store
	events  []eventstore.RecordedEvent
	seen    map[uuid.UUID]bool
	streams map[string]bool // read already
}

func (g *gatherer) keep(e eventstore.RecordedEvent) {
	if !g.seen[e.ID] {
		g.seen[e.ID] = true
		g.events = append(g.events, e)
	}
}

// stream reads a whole stream, once: a stream read before yields nothing.
func (g *gatherer) stream(name string) ([]eventstore.RecordedEvent, error) {
	if g.streams[name] {
		return nil, nil
	}
	g.streams[name] = true
	var all []eventstore.RecordedEvent
	for from := uint64(0); ; {
		recs, err := g.store.ReadStream(g.ctx, name, eventstore.Forwards, from, 1000)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		all = append(all, recs...)
		if len(recs) < 1000 {
			return all, nil
		}
		from = recs[len(recs)-1].Revision + 1
	}
}

// notices adds the provider notices that caused any event of the story: a
// notice's ledger id derives from its provider and its event id, which
// its outcomes carry as their correlation id.
func (g *gatherer) notices() error {
	for _, e := range slices.Clone(g.events) {
		m := metadataOf(e)
		cause, err := uuid.Parse(m.CausationID)
		if err != nil || g.seen[cause] || m.CorrelationID == "" {
			continue
		}
		for _, p := range knownProviders {
			if domain.ProviderEventLedgerID(p, m.CorrelationID) != cause {
				continue
			}
			recs, err := g.stream(domain.ProviderEventStream(p, m.CorrelationID))
			if err != nil {
				return err
			}
			for _, r := range recs {
				g.keep(r)
			}
		}
	}
	return nil
}

func metadataOf(e eventstore.RecordedEvent) app.Metadata {
	m, _ := app.DecodeMetadata(e.Metadata) // no metadata: nothing to tell
	return m
}

func describe(e eventstore.RecordedEvent, status string) storyEvent {
	m := metadataOf(e)
	se := storyEvent{
		Position: uint64(e.Position), RecordedAt: e.RecordedAt.UTC(), Stream: e.Stream, Revision: e.Revision, Type: e.Type,
		EventID: e.ID.String(), CausationID: m.CausationID, CorrelationID: m.CorrelationID,
		IdempotencyKey: m.IdempotencyKey, UserID: m.UserID, Status: status,
		ProviderKeys: reconciler.CallKeys(e.Type, e.ID),
	}
	if strings.HasPrefix(m.CorrelationID, "req_") {
		se.RequestID = m.CorrelationID
	}
	var data map[string]any
	if json.Unmarshal(e.Data, &data) == nil {
		for k, v := range data {
			if s, ok := v.(string); ok && s != "" && strings.HasPrefix(k, "provider_") {
				if se.ProviderIDs == nil {
					se.ProviderIDs = map[string]string{}
				}
				se.ProviderIDs[strings.TrimPrefix(k, "provider_")] = s
			}
		}
	}
	return se
}

// print writes the story as a table for a terminal.
func (s *story) print(w io.Writer) error {
	title := fmt.Sprintf("%s %s", s.Kind, s.ID)
	if s.AsOf != nil {
		title += " as of " + s.AsOf.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "%s: %s after %d events\n\n", title, s.Status, len(s.Events))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tRECORDED (UTC)\tEVENT\tSTATUS\tCAUSED BY\tCORRELATION\tIDEMPOTENCY KEY\tPROVIDER")
	byID := map[string]storyEvent{}
	for _, e := range s.Events {
		byID[e.EventID] = e
		cause := e.CausationID
		if c, ok := byID[cause]; ok {
			cause = fmt.Sprintf("%d %s", c.Position, c.Type)
		}
		var provider []string
		for _, k := range e.ProviderKeys {
			provider = append(provider, "call "+k)
		}
		for _, k := range slices.Sorted(maps.Keys(e.ProviderIDs)) {
			provider = append(provider, k+" "+e.ProviderIDs[k])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Position, e.RecordedAt.Format("2006-01-02 15:04:05.000"), e.Type,
			e.Status, dash(cause), dash(e.CorrelationID), dash(e.IdempotencyKey), dash(strings.Join(provider, ", ")))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
