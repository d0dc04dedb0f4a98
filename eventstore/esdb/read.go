package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/robotlabor/billing/eventstore"
)

// errNoPosition: the server does not give stream reads their $all
// positions, which the application needs to wait for its read models.
var errNoPosition = errors.New("the server sends stream events without their $all position: EventStoreDB 22.6 or later is required")

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	opts := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(from)}
	if dir == eventstore.Backwards {
		opts.Direction = esdb.Backwards
	}
	if from == eventstore.End {
		opts.From = esdb.End{}
	}
	out, err := s.read(ctx, "read "+stream, func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadStream(ctx, stream, opts, uint64(max))
	})
	if code(err) == esdb.ErrorCodeResourceNotFound {
		return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return out, err
}

// minPage is the fewest events a read of $all asks for.
const minPage = 256

// ReadAll implements eventstore.Store. The client cannot filter $all reads
// on the server, so system events are skipped here, reading on until max
// ledger events or the end of the log.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, limit int) ([]eventstore.RecordedEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []eventstore.RecordedEvent
	for {
		opts := esdb.ReadAllOptions{Direction: esdb.Forwards, From: esdb.Start{}}
		if from != eventstore.Start {
			opts.From = esdb.Position{Commit: uint64(from), Prepare: uint64(from)}
		}
		// A forward read of $all includes the event at its position, which
		// the port excludes: ask for one more. And never for few: a log
		// can hold long runs of system events, each skipped here.
		want := uint64(max(limit-len(out)+1, minPage))
		page, err := s.read(ctx, "read $all", func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
			return c.ReadAll(ctx, opts, want)
		})
		if err != nil {
			return nil, err
		}
		last := from
		for _, rec := range page {
			if rec.Position <= from {
				continue
			}
			last = rec.Position
			if !isSystem(rec.Type) && len(out) < limit {
				out = append(out, rec)
			}
		}
		if len(out) == limit || uint64(len(page)) < want {
			return out, nil
		}
		from = last
	}
}

// ReadEvent implements eventstore.Store: a forward read of $all from an
// event's position starts with that event. A system event is not the
// ledger's, so none is found there.
func (s *Store) ReadEvent(ctx context.Context, pos eventstore.Position) (eventstore.RecordedEvent, error) {
	notFound := fmt.Errorf("read event at %d: %w", pos, eventstore.ErrEventNotFound)
	if pos == eventstore.Start {
		return eventstore.RecordedEvent{}, notFound
	}
	at := esdb.Position{Commit: uint64(pos), Prepare: uint64(pos)}
	page, err := s.read(ctx, "read $all", func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
		return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: at}, 1)
	})
	if invalidPosition(err) {
		return eventstore.RecordedEvent{}, notFound
	}
	if err != nil {
		return eventstore.RecordedEvent{}, err
	}
	if len(page) == 0 || page[0].Position != pos || isSystem(page[0].Type) {
		return eventstore.RecordedEvent{}, notFound
	}
	return page[0], nil
}

// Head implements eventstore.Store: the position of the last event that is
// not a system event, found reading $all backwards.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var before esdb.AllPosition = esdb.End{}
	const pageSize = 256
	for {
		page, err := s.read(ctx, "read $all backwards", func(ctx context.Context, c *esdb.Client) (*esdb.ReadStream, error) {
			return c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: before}, pageSize)
		})
		if err != nil {
			return eventstore.Start, err
		}
		for _, rec := range page {
			if !isSystem(rec.Type) {
				return rec.Position, nil
			}
		}
		if len(page) < pageSize {
			return eventstore.Start, nil
		}
		oldest := uint64(page[len(page)-1].Position)
		before = esdb.Position{Commit: oldest, Prepare: oldest}
	}
}

// read runs one read through the client and returns its events.
func (s *Store) read(ctx context.Context, op string, open func(context.Context, *esdb.Client) (*esdb.ReadStream, error)) ([]eventstore.RecordedEvent, error) {
	for attempt := 1; ; attempt++ {
		evs, err := call(ctx, s, false, func(ctx context.Context, c *esdb.Client) ([]eventstore.RecordedEvent, error) {
			return readAll(open(ctx, c))
		})
		if code(err) == esdb.ErrorCodeResourceNotFound {
			return nil, err
		}
		err = s.settle(ctx, op, err)
		// Reads are safe to repeat: once more, on the leader or once the
		// node answers again.
		if attempt == 1 && retryable(err) {
			continue
		}
		return evs, err
	}
}

// readAll drains rs.
func readAll(rs *esdb.ReadStream, err error) ([]eventstore.RecordedEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []eventstore.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		rec, err := recorded(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}

// recorded converts a client event; the event itself, not a link to it.
func recorded(ev *esdb.ResolvedEvent) (eventstore.RecordedEvent, error) {
	e := ev.OriginalEvent()
	if e.Position.Commit == math.MaxUint64 {
		return eventstore.RecordedEvent{}, errNoPosition
	}
	var meta []byte
	if len(e.UserMetadata) > 0 {
		meta = e.UserMetadata
	}
	return eventstore.RecordedEvent{
		ID:         e.EventID,
		Type:       e.EventType,
		Stream:     e.StreamID,
		Revision:   e.EventNumber,
		Position:   eventstore.Position(e.Position.Commit),
		RecordedAt: e.CreatedDate,
		Data:       e.Data,
		Metadata:   meta,
	}, nil
}

// isSystem tells EventStoreDB's own events ($statistics, $metadata, users,
// projections…) from the ledger's.
func isSystem(eventType string) bool { return strings.HasPrefix(eventType, "$") }
