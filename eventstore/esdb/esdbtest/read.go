package esdbtest

import (
	"context"
	"errors"
	"slices"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/robotlabor/billing/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// page is how many events one store read fetches.
const page = 512

// Read serves stream reads, $all reads and $all subscriptions.
func (s *streamsServer) Read(req *streams.ReadReq, out streams.Streams_ReadServer) error {
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "read: no options")
	}
	structured := opts.GetUuidOption().GetString_() == nil
	f, err := newFilter(opts)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	send := func(rec eventstore.RecordedEvent) error { return out.Send(readEvent(rec, structured)) }
	backwards := opts.GetReadDirection() == streams.ReadReq_Options_Backwards
	switch {
	case opts.GetSubscription() != nil && opts.GetAll() != nil:
		return s.subscribeAll(opts.GetAll(), f, send, out)
	case opts.GetSubscription() != nil:
		return status.Error(codes.Unimplemented, "esdbtest: stream subscriptions are not implemented")
	case opts.GetStream() != nil:
		return s.readStream(out, opts.GetStream(), backwards, opts.GetCount(), send)
	case opts.GetAll() != nil:
		return s.readAll(out.Context(), opts.GetAll(), backwards, opts.GetCount(), f, send)
	default:
		return status.Error(codes.InvalidArgument, "read: neither a stream nor $all")
	}
}

func (s *streamsServer) readStream(out streams.Streams_ReadServer, opts *streams.ReadReq_Options_StreamOptions, backwards bool, count uint64, send func(eventstore.RecordedEvent) error) error {
	ctx := out.Context()
	name := streamName(opts.GetStreamIdentifier())
	dir, from := eventstore.Forwards, uint64(0)
	if backwards {
		dir = eventstore.Backwards
	}
	switch r := opts.GetRevisionOption().(type) {
	case *streams.ReadReq_Options_StreamOptions_Revision:
		from = r.Revision
	case *streams.ReadReq_Options_StreamOptions_End:
		from = eventstore.End
	}
	for count > 0 {
		evs, err := s.store.ReadStream(ctx, name, dir, from, int(min(count, page)))
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return out.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
			}}})
		}
		if err != nil {
			return storeError(err)
		}
		for _, rec := range evs {
			if err := send(rec); err != nil {
				return err
			}
		}
		if uint64(len(evs)) < min(count, page) {
			return nil
		}
		count -= uint64(len(evs))
		last := evs[len(evs)-1].Revision
		if backwards && last == 0 {
			return nil
		}
		from = last + 1
		if backwards {
			from = last - 1
		}
	}
	return nil
}

// readAll reads $all: forwards from a position includes the event there,
// backwards from it starts before it. count bounds the events sent, after
// filtering.
func (s *streamsServer) readAll(ctx context.Context, opts *streams.ReadReq_Options_AllOptions, backwards bool, count uint64, f filter, send func(eventstore.RecordedEvent) error) error {
	head, err := s.store.Head(ctx)
	if err != nil {
		return storeError(err)
	}
	var at eventstore.Position // forwards: read after it; backwards: before it
	switch p := opts.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_Position:
		if at, err = s.checkPosition(ctx, p.Position.GetCommitPosition()); err != nil {
			return err
		}
		if !backwards && at > 0 {
			at--
		}
	case *streams.ReadReq_Options_AllOptions_End:
		if !backwards {
			return nil
		}
		at = head + 1
	default: // start
		if backwards {
			return nil
		}
	}
	for count > 0 {
		var evs []eventstore.RecordedEvent
		if backwards {
			evs, err = s.allBefore(ctx, at, page)
		} else {
			evs, err = s.store.ReadAll(ctx, at, page)
		}
		if err != nil {
			return storeError(err)
		}
		if len(evs) == 0 {
			return nil
		}
		for _, rec := range evs {
			if !f.matches(rec) {
				continue
			}
			if err := send(rec); err != nil {
				return err
			}
			if count--; count == 0 {
				return nil
			}
		}
		at = evs[len(evs)-1].Position
	}
	return nil
}

// checkPosition refuses a $all position where no event starts, as
// EventStoreDB does (an offset inside a record is an invalid read), and
// returns the store's position for it.
func (s *streamsServer) checkPosition(ctx context.Context, wire uint64) (eventstore.Position, error) {
	pos, ok := storePosition(wire)
	if !ok {
		return 0, status.Errorf(codes.InvalidArgument, "invalid position %d: no event starts there", wire)
	}
	if pos == eventstore.Start {
		return pos, nil
	}
	_, err := s.store.ReadEvent(ctx, pos)
	if errors.Is(err, eventstore.ErrEventNotFound) {
		return 0, status.Errorf(codes.InvalidArgument, "invalid position %d: no event starts there", wire)
	}
	if err != nil {
		return 0, storeError(err)
	}
	return pos, nil
}

// allBefore returns up to n events before position before, newest first.
// The port reads $all forwards only, so it reads forwards over a window
// behind before, widening it until it holds n events or reaches the start.
func (s *streamsServer) allBefore(ctx context.Context, before eventstore.Position, n int) ([]eventstore.RecordedEvent, error) {
	for window := eventstore.Position(n + 16); ; window *= 4 {
		from := eventstore.Start
		if before > window {
			from = before - window
		}
		var got []eventstore.RecordedEvent
		for after := from; ; {
			evs, err := s.store.ReadAll(ctx, after, page)
			if err != nil {
				return nil, err
			}
			for _, rec := range evs {
				if rec.Position >= before {
					break
				}
				got = append(got, rec)
			}
			if len(evs) < page || evs[len(evs)-1].Position >= before {
				break
			}
			after = evs[len(evs)-1].Position
		}
		if len(got) >= n || from == eventstore.Start {
			slices.Reverse(got)
			return got[:min(n, len(got))], nil
		}
	}
}
