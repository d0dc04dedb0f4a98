// Package audit makes the log tamper-evident and checks it: Chain links
// each stream's events by their hashes as they are appended, a Sealer
// pins ranges of the whole log in the audit stream, and a Verifier
// recomputes both from an export or the live log, without any key.
// docs/events.md ("Tamper evidence") specifies the bytes hashed, so a
// third party can write its own verifier.
package audit
