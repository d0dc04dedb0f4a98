package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/robotlabor/billing/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type streamsServer struct {
	streams.UnimplementedStreamsServer
	store eventstore.Store
	opts  options
}

// Append takes the options, then the proposed events, and answers once.
func (s *streamsServer) Append(stream streams.Streams_AppendServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "append: the first message must carry the options")
	}
	name := streamName(opts.GetStreamIdentifier())
	expected := expectedRevision(opts)
	var events []eventstore.EventData
	size := 0
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		m := msg.GetProposedMessage()
		if m == nil {
			return status.Error(codes.InvalidArgument, "append: options sent twice")
		}
		id, err := fromProtoUUID(m.GetId())
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		if ct := m.Metadata["content-type"]; ct != "application/json" {
			return status.Errorf(codes.InvalidArgument, "append: content type %q: this server stores JSON only", ct)
		}
		size += len(m.Data) + len(m.CustomMetadata)
		if size > MaxAppendSize {
			stream.SetTrailer(metadata.Pairs("exception", "maximum-append-size-exceeded", "maximum-append-size", fmt.Sprint(MaxAppendSize)))
			return status.Errorf(codes.InvalidArgument, "Maximum Append Size of %d Exceeded.", MaxAppendSize)
		}
		events = append(events, eventstore.EventData{ID: id, Type: m.Metadata["type"], Data: m.Data, Metadata: m.CustomMetadata})
	}
	resp, err := s.append(stream.Context(), name, expected, events)
	if err != nil {
		return err
	}
	return stream.SendAndClose(resp)
}

func expectedRevision(opts *streams.AppendReq_Options) eventstore.ExpectedRevision {
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		return eventstore.Exact(e.Revision)
	case *streams.AppendReq_Options_NoStream:
		return eventstore.NoStream
	case *streams.AppendReq_Options_StreamExists:
		return eventstore.StreamExists
	default:
		return eventstore.Any
	}
}

func (s *streamsServer) append(ctx context.Context, name string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (*streams.AppendResp, error) {
	if len(events) == 0 {
		last, exists, err := s.head(ctx, name)
		if err != nil {
			return nil, err
		}
		if !expected.Holds(last, exists) {
			return wrongExpected(expected, last, exists), nil
		}
		return success(last, exists, nil), nil
	}
	if resp, ok, err := s.retried(ctx, name, expected, events); ok || err != nil {
		return resp, err
	}
	res, err := s.store.Append(ctx, name, expected, events...)
	var ce *eventstore.ConflictError
	switch {
	case errors.As(err, &ce):
		return wrongExpected(expected, ce.Actual, ce.Exists), nil
	case errors.Is(err, eventstore.ErrInvalidAppend):
		return nil, status.Error(codes.InvalidArgument, err.Error())
	case err != nil:
		return nil, storeError(err)
	}
	return success(res.Revision, true, &res.Position), nil
}

// retried applies EventStoreDB's idempotency rule for a definite expected
// revision (no stream or exact): if the event at the revision the append
// would start at has the first event's id, the append is a retry. If every
// id matches the events from there, it succeeds without writing; if only
// some do, it is a wrong expected version. Otherwise it is not a retry (ok
// false).
func (s *streamsServer) retried(ctx context.Context, name string, expected eventstore.ExpectedRevision, events []eventstore.EventData) (*streams.AppendResp, bool, error) {
	var start uint64
	if rev, ok := expected.Revision(); ok {
		start = rev + 1
	} else if !expected.IsNoStream() {
		return nil, false, nil
	}
	stored, err := s.store.ReadStream(ctx, name, eventstore.Forwards, start, len(events))
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && (len(stored) == 0 || stored[0].ID != events[0].ID)) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeError(err)
	}
	same := len(stored) == len(events)
	for i := 0; same && i < len(events); i++ {
		same = stored[i].ID == events[i].ID
	}
	if same {
		// Answered with the position of the original's last event, as
		// EventStoreDB does since 20.x (older servers sent none).
		last := &stored[len(stored)-1].Position
		if s.opts.retriesWithoutPosition {
			last = nil
		}
		return success(start+uint64(len(events))-1, true, last), true, nil
	}
	last, exists, err := s.head(ctx, name)
	if err != nil {
		return nil, false, err
	}
	return wrongExpected(expected, last, exists), true, nil
}

func (s *streamsServer) head(ctx context.Context, name string) (last uint64, exists bool, err error) {
	evs, err := s.store.ReadStream(ctx, name, eventstore.Backwards, eventstore.End, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, storeError(err)
	}
	return evs[0].Revision, true, nil
}

func success(rev uint64, exists bool, pos *eventstore.Position) *streams.AppendResp {
	ok := &streams.AppendResp_Success{}
	if exists {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_CurrentRevision{CurrentRevision: rev}
	} else {
		ok.CurrentRevisionOption = &streams.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
	}
	if pos != nil {
		ok.PositionOption = &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: wirePosition(*pos), PreparePosition: wirePosition(*pos),
		}}
	} else {
		ok.PositionOption = &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: ok}}
}

// wrongExpected fills both the current fields and those of servers before
// 20.6, as EventStoreDB does.
func wrongExpected(expected eventstore.ExpectedRevision, last uint64, exists bool) *streams.AppendResp {
	w := &streams.AppendResp_WrongExpectedVersion{}
	if exists {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: last}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: last}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	}
	switch rev, exact := expected.Revision(); {
	case exact:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: rev}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: rev}
	case expected.IsNoStream():
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case expected.IsStreamExists():
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &streams.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// storeError is a storage failure as a gRPC status: a closed store is an
// unavailable node, anything else an internal error.
func storeError(err error) error {
	switch {
	case errors.Is(err, eventstore.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}
