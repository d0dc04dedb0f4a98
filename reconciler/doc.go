// Package reconciler moves the money the ledger asks for. It follows the
// log from its own checkpoint and reacts to the command events (order
// placed, refund requested, order refunded, cancel requested) by calling the
// payment provider, then appends the outcome events.
//
// Every provider call carries an idempotency key derived from the causing
// event's id, and every outcome is appended with an id derived from the
// same, so handling an event twice (after a crash, on replay, or by two
// instances) charges once and records each outcome once. The checkpoint
// advances only past events handled or parked, in log order: an order whose
// outcome was not recorded is handled again after a restart, never left
// pending.
//
// It also takes the provider's news that a card was saved (SetupCompleted),
// which the sandbox's page and, later, Stripe's webhooks deliver.
package reconciler
