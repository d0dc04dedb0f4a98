// Package jsonx appends JSON values to byte slices, and reads the plain
// form of objects (Scanner), without reflection, for the few hot paths
// (every event to NATS, every order on a page, the log's most common
// bodies and metadata) where encoding/json's reflection is most of the
// cost. What it writes is what encoding/json writes for the same value,
// except that <, > and & are not escaped: the service answers JSON, not
// HTML. What it reads, or hands to encoding/json, decodes as encoding/json
// decodes it.
package jsonx

import (
	"bytes"
	"encoding/json"
	"time"
)

// AppendString appends s as a JSON string. Plain printable ASCII, which
// ids, types and codes are, is copied as it is; anything else is escaped
// by encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainChar[s[i]] {
			return appendEscaped(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	buf := bytes.NewBuffer(b)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out := buf.Bytes()
	return out[:len(out)-1] // Encode ends the value with a newline
}

// AppendTime appends t as encoding/json does (RFC 3339 with nanoseconds,
// quoted), for years 0 to 9999: time.Time's MarshalJSON refuses the others.
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
