// Package domain is the billing ledger's model: the aggregates (the plan
// catalog, a user's wallet of cards, orders and subscriptions), the commands
// they accept, the events they record, and the pure functions that decide which
// events a command produces.
//
// Everything here is a value computation. Nothing performs I/O, reads a clock
// or a random source, or imports another package of this module: callers load
// an aggregate by folding its stream's events with Apply, ask it to decide
// (a method that validates and returns new events without mutating anything),
// and append those events to the event store. Apply is the only code that
// changes an aggregate's state, so replaying the same events always yields the
// same state.
//
// Identifiers that must survive retries and restarts are derived
// deterministically (see ids.go): an order's id and its first event's id come
// from (user id, idempotency key), and an outcome event's id comes from the id
// of the event that caused it. Stored event type names are string constants
// that never change once shipped (see events.go); docs/events.md is the
// catalog of every event, its body and the transition it causes.
//
// Business-rule refusals are *Error values with a stable snake_case Code that
// the HTTP layer maps to a status; compare them with errors.Is against the
// sentinels in errors.go.
package domain
