package eventstore

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Position is an event's place in the global log. Positions grow strictly in
// log order but need not be contiguous. Start is before the first event.
type Position uint64

// Start is the position before the first event: reading or subscribing from
// Start delivers the whole log.
const Start Position = 0

// EventData is an event to append. ID identifies the event; appending the same
// IDs again at the revision they were first written is a no-op (see Append).
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON, may be nil
}

// RecordedEvent is an event as stored in the log.
type RecordedEvent struct {
	ID         uuid.UUID
	Type       string
	Stream     string
	Revision   uint64 // 0 for a stream's first event
	Position   Position
	RecordedAt time.Time
	Data       []byte
	Metadata   []byte
}

// AppendResult tells where the last event of an append landed.
type AppendResult struct {
	Revision uint64   // the stream's revision after the append
	Position Position // the global position of the append's last event
	// Written is true when this call wrote the events. It is false for an
	// idempotent repeat that found them already stored, and also whenever
	// the store cannot tell the two apart (EventStoreDB answers both
	// alike): false means "maybe not by this call".
	Written bool
}

// Direction orders a stream read.
type Direction int

const (
	Forwards Direction = iota
	Backwards
)

// End, as the from revision of a backwards read, starts at a stream's last event.
const End uint64 = 1<<64 - 1

// Store is an event store. Implementations are safe for concurrent use.
type Store interface {
	// Append writes events to the end of stream atomically, provided the
	// stream is at expected. It returns ErrConflict (as a *ConflictError)
	// when it is not, and ErrInvalidAppend when the events are malformed.
	//
	// Appending events whose IDs were already written by an earlier append
	// at the same expected revision succeeds, writes nothing, and returns
	// that earlier append's result: a retried append is a no-op.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream returns up to max events of stream starting at revision
	// from (inclusive) in the given direction; a backwards read may start at
	// End. It returns ErrStreamNotFound when the stream has no events.
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, max int) ([]RecordedEvent, error)

	// ReadAll returns up to max events of the log after position from
	// (exclusive), in log order. An empty result means from is the head.
	// from is Start or a position the store gave: positions are ordered
	// but not counters (EventStoreDB's are byte offsets in its log), so a
	// computed one such as p-1 may name no event and be refused.
	ReadAll(ctx context.Context, from Position, max int) ([]RecordedEvent, error)

	// ReadEvent returns the event at position pos, or ErrEventNotFound
	// when there is none.
	ReadEvent(ctx context.Context, pos Position) (RecordedEvent, error)

	// Head returns the position of the log's last event (Start when empty).
	Head(ctx context.Context) (Position, error)

	// SubscribeAll delivers every event after position from, in log order:
	// first those already stored, then new ones as they are appended, with
	// no gap and no duplicate at the seam. Resuming from the position of
	// the last event handled continues exactly after it.
	SubscribeAll(ctx context.Context, from Position) (Subscription, error)

	// Close releases the store's resources; pending appends fail.
	Close() error
}

// Subscription is a live, ordered feed of the log.
type Subscription interface {
	// Next blocks until at least one event is available and returns the
	// next events in log order (a batch, never empty on success). It returns
	// ctx.Err() when ctx ends and ErrClosed after Close.
	Next(ctx context.Context) ([]RecordedEvent, error)
	// Close ends the subscription.
	Close() error
}
