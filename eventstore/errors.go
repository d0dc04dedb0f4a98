package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrConflict means the stream was not at the expected revision: another
	// writer won the race. Reload, decide again, retry.
	ErrConflict = errors.New("eventstore: wrong expected revision")
	// ErrStreamNotFound means the stream has no events.
	ErrStreamNotFound = errors.New("eventstore: stream not found")
	// ErrEventNotFound means no event is at the position asked for.
	ErrEventNotFound = errors.New("eventstore: no event at this position")
	// ErrInvalidAppend means the events themselves are unacceptable: no
	// events, an empty type or stream, a nil or repeated ID, an append over
	// the backend's size limit, or IDs the stream already holds that are not
	// a retry of the append that wrote them. That last check is best
	// effort and differs by backend: the embedded store looks at the
	// stream's recent events; EventStoreDB checks retries only and writes a
	// known ID that comes at the stream's head. Callers must not rely on it
	// for uniqueness (app.Update does not).
	ErrInvalidAppend = errors.New("eventstore: invalid append")
	// ErrClosed means the store or subscription was closed.
	ErrClosed = errors.New("eventstore: closed")
)

// ConflictError details an ErrConflict.
type ConflictError struct {
	Stream   string
	Expected ExpectedRevision
	Actual   uint64 // the stream's last revision; meaningless if !Exists
	Exists   bool
}

func (e *ConflictError) Error() string {
	actual := "no stream"
	if e.Exists {
		actual = fmt.Sprintf("revision %d", e.Actual)
	}
	return fmt.Sprintf("append to %s: expected %s, stream is at %s: %v", e.Stream, e.Expected, actual, ErrConflict)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }
