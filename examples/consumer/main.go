// Command consumer prints the billing service's events from the NATS
// JetStream stream BILLING, one line per event:
//
//	seq type order_id|subscription_id amount currency
//
// It replays the whole history by default, or starts at a stream sequence
// (-from), or prints only new events (-new); -subjects filters by type
// (billing.order.paid, billing.subscription.>). It stops on ctrl-C.
//
// It reads with an ordered consumer: ephemeral, unacknowledged, strictly in
// stream order, recreated by the client from the next sequence after any
// gap or reconnect. A real consumer keeps the sequence of the last event it
// handled with its own state and restarts from the one after (-from).
// See docs/events.md, "Consuming the stream".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options choose which events Consume delivers.
type Options struct {
	// Stream is the JetStream stream. Default BILLING.
	Stream string
	// Subjects filter the events. Default billing.> (all).
	Subjects []string
	// From is the first stream sequence; 0 and 1 replay the whole history.
	From uint64
	// New delivers only events published after Consume starts (From is ignored).
	New bool
}

// Event is one message of the stream: the JSON body
// (docs/event-message.schema.json) and where it sits in the stream.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Stream     string          `json:"stream"`
	Revision   uint64          `json:"revision"`
	Position   uint64          `json:"position"`
	RecordedAt time.Time       `json:"recorded_at"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`

	// Seq is the message's stream sequence: restart with From = Seq+1.
	Seq uint64 `json:"-"`
	// Pending is how many matching messages followed it in the stream when
	// it was delivered; 0 means caught up.
	Pending uint64 `json:"-"`
}

// Handler handles one event. An error stops Consume, which returns it.
type Handler func(context.Context, Event) error

// Consume delivers the stream's events to handle one at a time, in stream
// (= log) order, until ctx ends (it then returns nil) or handle fails. It
// returns the error of a stream that does not exist or a malformed message.
func Consume(ctx context.Context, js jetstream.JetStream, opts Options, handle Handler) error {
	cons, err := js.OrderedConsumer(ctx, opts.stream(), opts.consumerConfig())
	if err != nil {
		return fmt.Errorf("consume %s: %w", opts.stream(), err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", opts.stream(), err)
	}
	defer msgs.Stop()
	for {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consume %s: %w", opts.stream(), err)
		}
		ev, err := decode(msg)
		if err != nil {
			return err
		}
		if err := handle(ctx, ev); err != nil {
			return err
		}
	}
}

func (o Options) stream() string {
	if o.Stream == "" {
		return "BILLING"
	}
	return o.Stream
}

func (o Options) consumerConfig() jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: o.Subjects, DeliverPolicy: jetstream.DeliverAllPolicy}
	if len(cfg.FilterSubjects) == 0 {
		cfg.FilterSubjects = []string{"billing.>"}
	}
	switch {
	case o.New:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	case o.From > 1:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.From
	}
	return cfg
}

func decode(msg jetstream.Msg) (Event, error) {
	var ev Event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return ev, fmt.Errorf("message on %s: %w", msg.Subject(), err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		return ev, fmt.Errorf("message on %s: %w", msg.Subject(), err)
	}
	ev.Seq, ev.Pending = meta.Sequence.Stream, meta.NumPending
	return ev, nil
}

// Line is the event as the command prints it: sequence, type, the order or
// subscription it is about, and the amount when the event has one.
func Line(ev Event) string {
	var d struct {
		OrderID        string `json:"order_id"`
		SubscriptionID string `json:"subscription_id"`
		Amount         *int64 `json:"amount"`
		Currency       string `json:"currency"`
	}
	_ = json.Unmarshal(ev.Data, &d) // a body without these fields prints dashes
	about, amount, currency := "-", "-", "-"
	switch {
	case strings.HasPrefix(ev.Type, "subscription.") && d.SubscriptionID != "":
		about = d.SubscriptionID
	case d.OrderID != "":
		about = d.OrderID
	}
	if d.Amount != nil {
		amount = fmt.Sprint(*d.Amount)
	}
	if d.Currency != "" {
		currency = d.Currency
	}
	return fmt.Sprintf("%d %s %s %s %s", ev.Seq, ev.Type, about, amount, currency)
}

func main() {
	url := flag.String("url", nats.DefaultURL, "NATS server URL")
	from := flag.Uint64("from", 1, "stream sequence to start at (1 = replay the whole history)")
	newOnly := flag.Bool("new", false, "only events published from now on (instead of -from)")
	subjects := flag.String("subjects", "billing.>", "comma-separated subject filters, e.g. billing.order.paid")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "from" && *newOnly {
			log.Fatal("-from and -new exclude each other")
		}
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *url, Options{From: *from, New: *newOnly, Subjects: strings.Split(*subjects, ",")}); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, opts Options) error {
	nc, err := nats.Connect(url, nats.Name("billing-consumer-example"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	err = Consume(ctx, js, opts, func(_ context.Context, ev Event) error {
		_, err := fmt.Println(Line(ev))
		return err
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: is the billing service running (billing serve) with this NATS?", err)
	}
	return err
}
