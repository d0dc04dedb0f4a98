package projections

import "errors"

var (
	// ErrLocked means another process holds the read models: a running
	// `billing serve` (or a rebuild). Stop it first.
	ErrLocked = errors.New("read models are in use by another process")
	// ErrInvalidCursor means a page cursor or an after-id does not name one
	// of the user's rows, or does not decode.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrNotFound means the user has no row with that id (another user's id
	// included).
	ErrNotFound = errors.New("not found")
)
