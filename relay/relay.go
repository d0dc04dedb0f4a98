package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robotlabor/billing/eventstore"
)

// Config is what a Relay needs.
type Config struct {
	Store eventstore.Store
	// JetStream must bound async publish acks
	// (jetstream.WithPublishAsyncTimeout): a lost ack must end the
	// session, not hang it.
	JetStream jetstream.JetStream
	// Stream is the JetStream stream's name. Default BILLING.
	Stream string
	// Replicas of the stream (3 on a NATS cluster). Default 1.
	Replicas int
	Logger   *slog.Logger
	// RetryMin and RetryMax bound the backoff while NATS is unreachable.
	// Defaults 100ms and 10s.
	RetryMin, RetryMax time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("relay: Store is required")
	case c.JetStream == nil:
		return errors.New("relay: JetStream is required")
	case c.Logger == nil:
		return errors.New("relay: Logger is required")
	}
	if c.Stream == "" {
		c.Stream = "BILLING"
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	return nil
}

// Relay copies the log into the JetStream stream.
type Relay struct {
	cfg       Config
	pos       atomic.Uint64 // the log position of the stream's last message
	connected atomic.Bool   // the last session reached the stream
}

// New returns a relay; Run starts it.
func New(cfg Config) (*Relay, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Relay{cfg: cfg}, nil
}

// Position is the log position of the last event known to be in the stream.
func (r *Relay) Position() eventstore.Position { return eventstore.Position(r.pos.Load()) }

// Healthy reports whether the relay is publishing (NATS reachable).
func (r *Relay) Healthy() bool { return r.connected.Load() }

// errResync: another publisher moved the stream; read its tail again.
var errResync = errors.New("stream moved by another publisher")

// Run relays until ctx ends. NATS being unreachable is not an error: it
// retries with backoff and resumes from the stream's tail.
func (r *Relay) Run(ctx context.Context) error {
	wait := r.cfg.RetryMin
	for {
		err := r.session(ctx)
		r.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errResync) {
			// Another publisher moved the stream, or JetStream dropped a
			// message as a duplicate (after a purge, until its window
			// passes): re-read the tail after a short pause.
			wait = r.cfg.RetryMin
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.cfg.RetryMin):
			}
			continue
		}
		r.cfg.Logger.Warn("relay: NATS unavailable, retrying", "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, r.cfg.RetryMax)
	}
}

// session ensures the stream, finds its tail, and publishes the log from
// there until something fails.
func (r *Relay) session(ctx context.Context) error {
	stream, err := r.ensureStream(ctx)
	if err != nil {
		return err
	}
	lastSeq, pos, err := r.tail(ctx, stream)
	if err != nil {
		return err
	}
	r.pos.Store(uint64(pos))
	r.connected.Store(true)
	sub, err := r.cfg.Store.SubscribeAll(ctx, pos)
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if lastSeq, err = r.publish(ctx, batch, lastSeq); err != nil {
			return err
		}
		if len(batch) < gatherBelow {
			// Let the next events gather: under load the relay then reads
			// the log in batches, not an event or two per commit.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(gather):
			}
		}
	}
}

// gather is how long the relay lets events gather after a small batch,
// gatherBelow what counts as small. An event reaches NATS that much later
// at most; under load, reading the log one commit at a time cost the
// relay more than publishing.
const (
	gather      = 5 * time.Millisecond
	gatherBelow = 256
)

func (r *Relay) ensureStream(ctx context.Context) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.cfg.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        r.cfg.Stream,
		Description: "Every event of the billing ledger, in log order (docs/events.md).",
		Subjects:    []string{"billing.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Replicas:    r.cfg.Replicas,
		Duplicates:  duplicateWindow,
	})
}

// duplicateWindow is how long JetStream remembers a message id to drop a
// second message with it. Exactly once does not rest on it (every publish
// expects the stream's last sequence), and JetStream keeps every id of the
// window in memory: the default 2 minutes held 2 million ids (330 MB of
// heap, 15% of the CPU in garbage collection) after the relay caught up
// with a log of a million orders, and 10 seconds still held 65 of the
// process's 83 MB live heap for the 10 seconds after such a catch-up (the
// collector took 12% of the CPU against 3%). Under load a second holds a
// few thousand ids.
const duplicateWindow = time.Second

// tail returns the stream's last sequence and the log position of the
// event it holds (Start for an empty stream).
func (r *Relay) tail(ctx context.Context, stream jetstream.Stream) (uint64, eventstore.Position, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		// Empty, or purged by an operator: publish the whole log (again).
		return last, eventstore.Start, nil
	}
	msg, err := stream.GetMsg(ctx, last)
	if err != nil {
		return 0, 0, fmt.Errorf("read the stream's last message %d: %w", last, err)
	}
	pos, err := positionOf(msg.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s message %d: %w", r.cfg.Stream, last, err)
	}
	if err := r.sameLog(ctx, pos, msg.Header.Get(jetstream.MsgIDHeader)); err != nil {
		return 0, 0, err
	}
	return last, pos, nil
}

// sameLog checks that the stream's last message is the event this log has
// at its position: a stream fed by another log (a misconfigured second
// deployment) must not be interleaved with this one.
func (r *Relay) sameLog(ctx context.Context, pos eventstore.Position, id string) error {
	ev, err := r.cfg.Store.ReadEvent(ctx, pos)
	if err != nil && !errors.Is(err, eventstore.ErrEventNotFound) {
		return err
	}
	if err != nil || ev.ID.String() != id {
		return fmt.Errorf("stream %s ends with event %s at position %d, which this event store does not hold there: "+
			"the stream belongs to another log; refusing to publish into it", r.cfg.Stream, id, pos)
	}
	return nil
}

// publish sends a batch in order, pipelined, each message expecting the
// previous one as the stream's last: either it lands right after it or it
// is refused. It returns the stream's new last sequence.
func (r *Relay) publish(ctx context.Context, batch []eventstore.RecordedEvent, lastSeq uint64) (uint64, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(batch))
	for i, e := range batch {
		body, err := Encode(e)
		if err != nil {
			return lastSeq, err
		}
		msg := &nats.Msg{Subject: Subject(e.Type), Data: body, Header: nats.Header{}}
		f, err := r.cfg.JetStream.PublishMsgAsync(msg,
			jetstream.WithMsgID(e.ID.String()), jetstream.WithExpectLastSequence(lastSeq+uint64(i)))
		if err != nil {
			break // what was sent is awaited below; the rest is sent again after a resync
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				return lastSeq, errResync // not stored: the stream still lacks it
			}
			lastSeq = ack.Sequence
			r.pos.Store(uint64(batch[i].Position))
		case err := <-f.Err():
			if isWrongLastSequence(err) {
				return lastSeq, errResync
			}
			return lastSeq, err
		case <-ctx.Done():
			return lastSeq, ctx.Err()
		}
	}
	if len(futures) < len(batch) {
		return lastSeq, errResync
	}
	return lastSeq, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
