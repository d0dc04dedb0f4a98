package esdbtest

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// unixTicks converts to .NET ticks (100 ns) since the Unix epoch: the unit
// of EventStoreDB's "created" metadata.
func unixTicks(ns int64) int64 { return ns / 100 }

// protoUUID encodes id as EventStoreDB does: two big-endian halves when
// structured, the canonical string otherwise.
func protoUUID(id uuid.UUID, structured bool) *shared.UUID {
	if !structured {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func fromProtoUUID(u *shared.UUID) (uuid.UUID, error) {
	if s := u.GetStructured(); s != nil {
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[:8], uint64(s.MostSignificantBits))
		binary.BigEndian.PutUint64(id[8:], uint64(s.LeastSignificantBits))
		return id, nil
	}
	id, err := uuid.Parse(u.GetString_())
	if err != nil {
		return uuid.Nil, fmt.Errorf("event id %q: %w", u.GetString_(), err)
	}
	return id, nil
}

func streamName(id *shared.StreamIdentifier) string { return string(id.GetStreamName()) }

// stride spaces the positions the server hands out, as EventStoreDB's are
// byte offsets of records in its log: the store's position p is p×stride
// on the wire, so a client that computes a position (p-1) names none.
const stride = 128

func wirePosition(p eventstore.Position) uint64 { return uint64(p) * stride }

// storePosition is the store's position for a wire position, false when
// no record could start there.
func storePosition(w uint64) (eventstore.Position, bool) {
	return eventstore.Position(w / stride), w%stride == 0
}

// readEvent is rec as a Read response. Commit and prepare positions are
// equal, as for every event EventStoreDB writes
// outside an explicit (TCP-only) transaction, and stream reads carry them
// too, as EventStoreDB does since 22.6.
func readEvent(rec eventstore.RecordedEvent, structured bool) *streams.ReadResp {
	pos := wirePosition(rec.Position)
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               protoUUID(rec.ID, structured),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(rec.Stream)},
			StreamRevision:   rec.Revision,
			PreparePosition:  pos,
			CommitPosition:   pos,
			Metadata: map[string]string{
				"type":         rec.Type,
				"content-type": "application/json",
				"created":      fmt.Sprint(unixTicks(rec.RecordedAt.UnixNano())),
			},
			CustomMetadata: rec.Metadata,
			Data:           rec.Data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: pos},
	}}}
}

// filter is a server-side $all filter: on the event type or the stream
// name, by regular expression or by prefixes. The zero filter lets all
// through.
type filter struct {
	onType   bool
	re       *regexp.Regexp
	prefixes []string
	// checkpointEvery is how many events (matching or not) are read between
	// checkpoint messages; 0 sends none.
	checkpointEvery int
}

func newFilter(opts *streams.ReadReq_Options) (filter, error) {
	f := opts.GetFilter()
	if f == nil {
		return filter{}, nil
	}
	expr := f.GetEventType()
	out := filter{onType: expr != nil}
	if expr == nil {
		expr = f.GetStreamIdentifier()
	}
	if expr == nil {
		return filter{}, fmt.Errorf("filter has neither an event type nor a stream expression")
	}
	if expr.Regex != "" {
		re, err := regexp.Compile(expr.Regex)
		if err != nil {
			return filter{}, fmt.Errorf("filter regex: %w", err)
		}
		out.re = re
	}
	out.prefixes = expr.Prefix
	window := 32 // EventStoreDB's default search window
	if m := f.GetMax(); m > 0 {
		window = int(m)
	}
	out.checkpointEvery = window * int(max(f.CheckpointIntervalMultiplier, 1))
	return out, nil
}

func (f filter) matches(rec eventstore.RecordedEvent) bool {
	s := rec.Stream
	if f.onType {
		s = rec.Type
	}
	if f.re != nil && !f.re.MatchString(s) {
		return false
	}
	if len(f.prefixes) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
