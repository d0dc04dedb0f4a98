package esdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/robotlabor/billing/eventstore"
)

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	// Checked here: the client would give an event without an id a random
	// one, which defeats idempotency.
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	proposed := make([]esdb.EventData, len(events))
	for i, e := range events {
		proposed[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Data, Metadata: e.Metadata}
	}
	opts := esdb.AppendToStreamOptions{ExpectedRevision: toExpected(expected)}
	var res *esdb.WriteResult
	for attempt := 1; ; attempt++ {
		var err error
		res, err = call(ctx, s, false, func(ctx context.Context, c *esdb.Client) (*esdb.WriteResult, error) {
			return c.AppendToStream(ctx, stream, opts, proposed...)
		})
		switch {
		case code(err) == esdb.ErrorCodeWrongExpectedVersion:
			return eventstore.AppendResult{}, s.conflict(ctx, stream, expected, err)
		case invalidArgument(err):
			return eventstore.AppendResult{}, fmt.Errorf("%w: %s: %v", eventstore.ErrInvalidAppend, stream, err)
		case err != nil:
			err = s.settle(ctx, "append to "+stream, err)
			// Once more, on the leader or once the node answers again,
			// when a retry is a no-op if the first try was written: only
			// definite expected revisions are idempotent for sure.
			if attempt == 1 && retryable(err) && !expected.IsAny() && !expected.IsStreamExists() {
				continue
			}
			return eventstore.AppendResult{}, err
		}
		break
	}
	out := eventstore.AppendResult{Revision: res.NextExpectedVersion, Position: eventstore.Position(res.CommitPosition)}
	if res.CommitPosition == 0 {
		// A retry the server recognised answers without a position: the
		// original append's is that of the event at its last revision.
		evs, err := s.ReadStream(ctx, stream, eventstore.Forwards, out.Revision, 1)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("esdb append to %s: position of the original append: %w", stream, err)
		}
		if len(evs) == 0 {
			return eventstore.AppendResult{}, fmt.Errorf("esdb append to %s: no event at revision %d after a successful append", stream, out.Revision)
		}
		out.Position = evs[0].Position
	}
	return out, nil
}

func toExpected(e eventstore.ExpectedRevision) esdb.ExpectedRevision {
	if rev, ok := e.Revision(); ok {
		return esdb.Revision(rev)
	}
	switch {
	case e.IsNoStream():
		return esdb.NoStream{}
	case e.IsStreamExists():
		return esdb.StreamExists{}
	default:
		return esdb.Any{}
	}
}

// conflict is a wrong expected version as the port's error. The client
// reports the stream's current revision only in its message ("expecting
// 'X' but got 'Y'"); when that cannot be read, the stream is asked.
//
// With Any, or StreamExists on a stream that exists, the server has no
// revision to disagree with: it answers so when the first event's id is a
// recent one of the stream but the rest do not follow it (its "corrupted
// idempotency"): a retry that is not the same append, which the port
// calls an invalid append.
func (s *Store) conflict(ctx context.Context, stream string, expected eventstore.ExpectedRevision, err error) error {
	ce := &eventstore.ConflictError{Stream: stream, Expected: expected}
	known := false
	msg := err.Error()
	if i := strings.LastIndex(msg, "but got '"); i >= 0 {
		got := strings.TrimSuffix(msg[i+len("but got '"):], "'")
		if got == "no_stream" {
			known = true
		} else if rev, perr := strconv.ParseUint(got, 10, 64); perr == nil {
			ce.Actual, ce.Exists, known = rev, true, true
		}
	}
	if !known {
		last, rerr := s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
		if rerr == nil && len(last) == 1 {
			ce.Actual, ce.Exists = last[0].Revision, true
		} else if rerr != nil && !errors.Is(rerr, eventstore.ErrStreamNotFound) {
			return fmt.Errorf("%w (and reading its revision: %v)", ce, rerr)
		}
	}
	if expected.IsAny() || expected.IsStreamExists() && ce.Exists {
		return fmt.Errorf("%w: %s: ids already in the stream, not as one earlier append: %v", eventstore.ErrInvalidAppend, stream, err)
	}
	return ce
}
