package eventstore

import (
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
