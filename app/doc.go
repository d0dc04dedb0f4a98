// Package app runs commands against the ledger: it loads an aggregate's
// events from the event store, lets the domain decide, and appends the
// decided events with their metadata under the revision it loaded, trying
// again when another writer got there first.
//
// It sits between the adapters that receive commands (http, the reconciler)
// and the two packages they must not tie together themselves: domain, which
// decides without I/O, and eventstore, which stores without knowing billing.
package app
