package domain

import "time"

// EventAuditSealed is the audit stream's one event.
const EventAuditSealed = "audit.sealed"

// AuditStream holds the seals, chained like every stream.
const AuditStream = "audit"

// AuditSealed pins a range of the log: the events after FromPosition up to
// and including ToPosition. Digest is over the range's stream heads and
// every event in it, and over PrevDigest, the previous seal's digest, so
// the seals form a chain (docs/events.md, "Tamper evidence", says exactly
// how). Seal numbers count from 1.
type AuditSealed struct {
	Seal         uint64    `json:"seal"`
	FromPosition uint64    `json:"from_position"`
	ToPosition   uint64    `json:"to_position"`
	Events       uint64    `json:"events"`
	Streams      uint64    `json:"streams"`
	Digest       string    `json:"digest"`
	PrevDigest   string    `json:"prev_digest"`
	SealedAt     time.Time `json:"sealed_at"`
}

func (AuditSealed) EventType() string { return EventAuditSealed }
func (AuditSealed) StreamID() string  { return AuditStream }
