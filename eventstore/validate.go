package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// ValidateAppend checks what every backend refuses before touching storage,
// so all of them refuse the same appends with ErrInvalidAppend.
func ValidateAppend(stream string, events []EventData) error {
	if stream == "" {
		return fmt.Errorf("%w: empty stream name", ErrInvalidAppend)
	}
	if len(events) == 0 {
		return fmt.Errorf("%w: no events for %s", ErrInvalidAppend, stream)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i, e := range events {
		if e.ID == uuid.Nil {
			return fmt.Errorf("%w: event %d of %s has no id", ErrInvalidAppend, i, stream)
		}
		if e.Type == "" {
			return fmt.Errorf("%w: event %s has no type", ErrInvalidAppend, e.ID)
		}
		if _, dup := seen[e.ID]; dup {
			return fmt.Errorf("%w: event id %s repeated in one append", ErrInvalidAppend, e.ID)
		}
		seen[e.ID] = struct{}{}
	}
	return nil
}

// ErrForeignCheckpoint means a consumer's saved position names no event of
// the log: the store was restored from an older backup, replaced, or the
// checkpoint belongs to another log. Following from it would skip events
// (or be refused), so the consumer must be rebuilt instead.
var ErrForeignCheckpoint = errors.New("eventstore: checkpoint names no event of this log")

// VerifyCheckpoint checks that pos, a consumer's saved position, is Start
// or the position of an event of s, and returns ErrForeignCheckpoint if not.
func VerifyCheckpoint(ctx context.Context, s Store, pos Position) error {
	if pos == Start {
		return nil
	}
	_, err := s.ReadEvent(ctx, pos)
	if errors.Is(err, ErrEventNotFound) {
		return fmt.Errorf("%w: position %d", ErrForeignCheckpoint, pos)
	}
	return err
}
