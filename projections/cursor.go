package projections

import (
	"encoding/base64"
	"fmt"
	"unicode/utf8"
)

// A cursor is opaque to clients: the base64url (unpadded) id of the last
// row of the previous page. It is looked up again, for the user asking, on
// every use, so a forged cursor can only name the user's own rows.

func encodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// decodeCursor returns the id in cursor, or an error wrapping
// ErrInvalidCursor.
func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 || !utf8.Valid(b) {
		return "", fmt.Errorf("%w: malformed cursor", ErrInvalidCursor)
	}
	return string(b), nil
}

// nextCursor is the cursor of the page after items, empty when there is
// none.
func nextCursor[T any](items []T, hasMore bool, id func(T) string) string {
	if !hasMore || len(items) == 0 {
		return ""
	}
	return encodeCursor(id(items[len(items)-1]))
}
