package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/relay"
)

// The log the tests relay, in order: a one-time order placed, paid and
// refunded, and a subscription bought, paid and started.
var wantTypes = []string{
	"order.placed",           // 1 one-time order
	"order.placed",           // 2 first order of the subscription
	"subscription.created",   // 3
	"order.paid",             // 4 one-time order
	"order.refund_requested", // 5
	"order.refunded",         // 6
	"order.paid",             // 7 subscription's order
	"subscription.started",   // 8
}

func TestReplaysTheWholeHistoryInOrder(t *testing.T) {
	js, history := billingStream(t)
	got := consume(t, js, Options{}, len(wantTypes))
	if types := typesOf(got); !slices.Equal(types, wantTypes) {
		t.Fatalf("got %v\nwant %v", types, wantTypes)
	}
	for i, ev := range got {
		if ev.Seq != uint64(i+1) || ev.ID != history[i].ID.String() || ev.Position != uint64(history[i].Position) || ev.Stream != history[i].Stream {
			t.Errorf("event %d = seq %d %s at %d in %s; the log has %s at %d in %s",
				i, ev.Seq, ev.ID, ev.Position, ev.Stream, history[i].ID, history[i].Position, history[i].Stream)
		}
	}
	if last := got[len(got)-1]; last.Pending != 0 {
		t.Errorf("the last event has %d messages pending after it", last.Pending)
	}
}

func TestStartsAtASequence(t *testing.T) {
	js, _ := billingStream(t)
	consume(t, js, Options{}, len(wantTypes)) // the relay has published everything
	got := consume(t, js, Options{From: 5}, len(wantTypes)-4)
	if types := typesOf(got); !slices.Equal(types, wantTypes[4:]) {
		t.Fatalf("from 5: got %v, want %v", types, wantTypes[4:])
	}
	if got[0].Seq != 5 {
		t.Fatalf("from 5: the first event has sequence %d", got[0].Seq)
	}
}

func TestFiltersBySubject(t *testing.T) {
	js, _ := billingStream(t)
	got := consume(t, js, Options{Subjects: []string{"billing.order.paid"}}, 2)
	if seqs := []uint64{got[0].Seq, got[1].Seq}; !slices.Equal(seqs, []uint64{4, 7}) || got[1].Pending != 0 {
		t.Fatalf("billing.order.paid: sequences %v (pending %d), want [4 7] (0)", seqs, got[1].Pending)
	}
	got = consume(t, js, Options{Subjects: []string{"billing.order.refunded", "billing.subscription.>"}}, 3)
	if types, want := typesOf(got), []string{"subscription.created", "order.refunded", "subscription.started"}; !slices.Equal(types, want) {
		t.Fatalf("two filters: got %v, want %v", types, want)
	}
}

func TestNewDeliversOnlyWhatFollows(t *testing.T) {
	cfg := Options{New: true, From: 3}.consumerConfig()
	if cfg.DeliverPolicy != jetstream.DeliverNewPolicy || cfg.OptStartSeq != 0 {
		t.Fatalf("-new: deliver policy %v from %d, want DeliverNewPolicy", cfg.DeliverPolicy, cfg.OptStartSeq)
	}
	if cfg := (Options{}).consumerConfig(); cfg.DeliverPolicy != jetstream.DeliverAllPolicy || !slices.Equal(cfg.FilterSubjects, []string{"billing.>"}) {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestAHandlerErrorStopsConsume(t *testing.T) {
	js, _ := billingStream(t)
	boom := errors.New("boom")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	err := Consume(ctx, js, Options{}, func(context.Context, Event) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("Consume = %v after %d events, want boom after 1", err, n)
	}
}

func TestLine(t *testing.T) {
	js, _ := billingStream(t)
	got := consume(t, js, Options{}, len(wantTypes))
	order := domain.OrderIDFor("user_42", "order-1")
	sub := domain.SubscriptionIDFor(domain.OrderIDFor("user_42", "order-2"))
	for i, want := range map[int]string{
		0: "1 order.placed " + string(order) + " 4900 usd",
		2: "3 subscription.created " + string(sub) + " 19900 usd",
		7: "8 subscription.started " + string(sub) + " - -",
	} {
		if got := Line(got[i]); got != want {
			t.Errorf("Line = %q, want %q", got, want)
		}
	}
}

func TestSequenceOfAPosition(t *testing.T) {
	js, history := billingStream(t)
	consume(t, js, Options{}, len(wantTypes))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "BILLING")
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range history {
		if seq, err := SequenceOf(ctx, stream, uint64(ev.Position)); err != nil || seq != uint64(i+1) {
			t.Errorf("SequenceOf(%d) = %d, %v; want %d", ev.Position, seq, err, i+1)
		}
	}
	if _, err := SequenceOf(ctx, stream, uint64(history[len(history)-1].Position)+1); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("SequenceOf(a position after the log) = %v, want ErrMsgNotFound", err)
	}
}

// consume runs Consume until it has delivered n events, and checks the
// stream holds no more than it delivered.
func consume(t *testing.T, js jetstream.JetStream, opts Options, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // hang guard
	defer cancel()
	var got []Event
	enough := errors.New("enough")
	err := Consume(ctx, js, opts, func(_ context.Context, ev Event) error {
		got = append(got, ev)
		if len(got) == n {
			return enough
		}
		return nil
	})
	if !errors.Is(err, enough) {
		t.Fatalf("Consume(%+v) = %v after %d of %d events", opts, err, len(got), n)
	}
	if last := got[len(got)-1]; last.Pending != 0 {
		t.Fatalf("Consume(%+v): %d more events after the %d expected", opts, last.Pending, n)
	}
	return got
}

// billingStream starts an embedded nats-server and a relay publishing an
// SQLite log holding the events of wantTypes, and returns the JetStream
// context and the log.
func billingStream(t *testing.T) (jetstream.JetStream, []eventstore.RecordedEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := relay.StartServer("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	appendHistory(t, ctx, app.NewLog(store, nil))
	history, err := store.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}

	// The relay creates the stream before it publishes; its first message
	// on the subject says the stream exists.
	first, err := nc.SubscribeSync("billing.>")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unsubscribe()
	r, err := relay.New(relay.Config{Store: store, JetStream: js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	})
	if _, err := first.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the relay published nothing: %v", err)
	}
	return js, history
}

// appendHistory appends the events of wantTypes as the service decides
// them: a command decides, the log appends under the loaded revision.
func appendHistory(t *testing.T, ctx context.Context, eventLog *app.Log) {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	catalog := domain.NewCatalog()
	plans, err := catalog.Sync(domain.DefaultPlans())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range plans {
		catalog.Apply(e)
	}
	wallet := domain.NewWallet("user_42")
	session := domain.NewSetupSessionID(uuid.MustParse("c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"))
	card := domain.PaymentMethodIDFor(session)
	wallet.Apply(domain.CardSetupStarted{UserID: "user_42", SessionID: session, ProviderSessionID: "cs_sbx_1",
		URL: "https://sandbox.example/cs_sbx_1", ExpiresAt: now.Add(time.Hour), StartedAt: now})
	wallet.Apply(domain.CardAttached{UserID: "user_42", PaymentMethodID: card, SessionID: session,
		ProviderPaymentMethodID: "pm_sbx_1", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, AttachedAt: now})

	place := func(key, plan string) domain.OrderID {
		cmd := domain.PlaceOrder{UserID: "user_42", IdempotencyKey: key, PlanID: plan, PaymentMethodID: string(card)}
		events, err := cmd.Decide(catalog, wallet, now)
		if err != nil {
			t.Fatal(err)
		}
		ids := domain.DecidedEventIDs(domain.PlacedEventID(cmd.OrderID()), events)
		meta := app.Metadata{CorrelationID: key, UserID: "user_42", IdempotencyKey: key}
		for i, e := range events {
			if _, err := eventLog.Append(ctx, e.StreamID(), eventstore.NoStream, events[i:i+1], ids[i:i+1], meta); err != nil {
				t.Fatal(err)
			}
		}
		return cmd.OrderID()
	}
	// Each decision names the order's first event as its cause, so the
	// appended ids derive from it, as the reconciler's outcomes do.
	order := func(id domain.OrderID, decide func(*domain.Order) ([]domain.Event, error)) {
		meta := app.Metadata{CorrelationID: "req_1", CausationID: domain.PlacedEventID(id).String(), UserID: "user_42"}
		if _, _, err := app.Update(ctx, eventLog, id.Stream(), func() *domain.Order { return &domain.Order{} }, decide, meta); err != nil {
			t.Fatal(err)
		}
	}

	oneTime := place("order-1", "plan_robot_hours_10")
	first := place("order-2", "plan_fleet_monthly")
	order(oneTime, func(o *domain.Order) ([]domain.Event, error) { return o.Pay("pi_1", now) })
	order(oneTime, func(o *domain.Order) ([]domain.Event, error) { return o.RequestRefund(now) })
	order(oneTime, func(o *domain.Order) ([]domain.Event, error) { return o.CompleteRefund("re_1", now) })
	order(first, func(o *domain.Order) ([]domain.Event, error) { return o.Pay("pi_2", now) })
	sub := domain.SubscriptionIDFor(first)
	if _, _, err := app.Update(ctx, eventLog, sub.Stream(), func() *domain.Subscription { return &domain.Subscription{} },
		func(s *domain.Subscription) ([]domain.Event, error) { return s.Start(now, "sub_sbx_1", now) }, app.Metadata{CorrelationID: "req_2"}); err != nil {
		t.Fatal(err)
	}
}

func typesOf(events []Event) []string {
	types := make([]string, len(events))
	for i, ev := range events {
		types[i] = ev.Type
	}
	return types
}
