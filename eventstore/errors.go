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
	// ErrInvalidAppend means the events themselves are unacceptable: no
	// events, an empty type or stream, a nil or repeated ID, or an ID already
	// used elsewhere in the log.
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
