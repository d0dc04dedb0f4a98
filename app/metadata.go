package app

import (
	"bytes"
	"encoding/json"

	"github.com/robotlabor/billing/internal/jsonx"
)

// metadataKeys are Metadata's JSON keys.
var metadataKeys = [...]string{"correlation_id", "causation_id", "user_id", "idempotency_key"}

// DecodeMetadata is json.Unmarshal of an event's metadata into a Metadata.
// The reconciler reads it for every order it charges, so the form the log
// holds (one object of plain strings, its keys Metadata's or the hash
// chain's) is read without reflection; anything else is handed to
// encoding/json whole, so the outcome, value or error, is always exactly
// encoding/json's (metadata_test.go holds it to that).
func DecodeMetadata(data []byte) (Metadata, error) {
	var m Metadata
	s := jsonx.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "correlation_id":
			return s.Str(&m.CorrelationID)
		case "causation_id":
			return s.Str(&m.CausationID)
		case "user_id":
			return s.Str(&m.UserID)
		case "idempotency_key":
			return s.Str(&m.IdempotencyKey)
		}
		for _, k := range metadataKeys {
			if bytes.EqualFold(key, []byte(k)) {
				return false // encoding/json matches keys in any case
			}
		}
		_, ok := s.Plain() // another key's string, skipped
		return ok
	})
	if ok {
		return m, nil
	}
	m = Metadata{}
	err := json.Unmarshal(data, &m)
	return m, err
}
