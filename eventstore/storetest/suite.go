package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// Open returns a store for one test; it registers its own cleanup.
type Open func(t *testing.T) eventstore.Store

// Run runs the whole contract suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, eventstore.Store)
	}{
		{"AppendThenReadForwardsAndBackwards", testReadStream},
		{"ReadMissingStream", testReadMissingStream},
		{"ExpectedRevision", testExpectedRevision},
		{"InvalidAppends", testInvalidAppends},
		{"IdempotentReappend", testIdempotentReappend},
		{"ReappendAtOtherRevisionConflicts", testReappendElsewhere},
		{"RacingWritersOneWinnerPerRevision", testRacingWriters},
		{"ReadAllInLogOrder", testReadAllOrder},
		{"HeadIsTheLastPosition", testHead},
		{"ReadEventAtItsPosition", testReadEvent},
		{"SubscriptionSeamUnderConcurrentWrites", testSubscriptionSeam},
		{"SubscriptionResumesFromPosition", testSubscriptionResume},
		{"SubscriptionWaitsForNewEvents", testSubscriptionWaits},
		{"SubscriptionClose", testSubscriptionClose},
		{"LargeBodies", testLargeBodies},
		{"ManyStreams", testManyStreams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newStream names a stream no other test (or earlier run against a shared
// server) uses.
func newStream(prefix string) string {
	return prefix + "-" + uuid.NewString()
}

func events(n int, typ string) []eventstore.EventData {
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		id := uuid.New()
		evs[i] = eventstore.EventData{
			ID:       id,
			Type:     typ,
			Data:     []byte(fmt.Sprintf(`{"n":%d,"id":%q}`, i, id)),
			Metadata: []byte(`{"correlation_id":"c-1"}`),
		}
	}
	return evs
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedRevision, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(ctxFor(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %d events to %s at %s: %v", len(evs), stream, exp, err)
	}
	return res
}

func readStream(t *testing.T, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	got, err := s.ReadStream(ctxFor(t), stream, eventstore.Forwards, 0, 1<<20)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return got
}

// head is the log's current last position.
func head(t *testing.T, s eventstore.Store) eventstore.Position {
	t.Helper()
	pos, err := s.Head(ctxFor(t))
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return pos
}

func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("%s: got error %v, want ErrConflict", what, err)
	}
}

func sameEvent(t *testing.T, got eventstore.RecordedEvent, want eventstore.EventData, stream string, rev uint64) {
	t.Helper()
	if got.ID != want.ID || got.Type != want.Type || string(got.Data) != string(want.Data) ||
		string(got.Metadata) != string(want.Metadata) || got.Stream != stream || got.Revision != rev {
		t.Fatalf("read back %s@%d id=%s type=%s data=%.60s meta=%s\nwant %s@%d id=%s type=%s data=%.60s meta=%s",
			got.Stream, got.Revision, got.ID, got.Type, got.Data, got.Metadata,
			stream, rev, want.ID, want.Type, want.Data, want.Metadata)
	}
	if got.RecordedAt.IsZero() || got.RecordedAt.Location() != time.UTC {
		t.Fatalf("RecordedAt = %v, want a UTC time", got.RecordedAt)
	}
	if got.Position == eventstore.Start {
		t.Fatalf("event %s has position Start", got.ID)
	}
}
