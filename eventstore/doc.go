// Package eventstore is the port to the ledger: an append-only log of events
// grouped into streams, one stream per aggregate instance.
//
// It knows nothing of billing. The domain decides which events a command
// produces; this package only stores them with optimistic concurrency
// (ExpectedRevision), reads them back per stream or in global order, and
// delivers them to subscribers from a stored Position, catch-up then live.
//
// Backends live in sub-packages named after their technology (sqlite, the
// embedded default; esdb, EventStoreDB). Every backend must pass the contract
// suite in storetest, so anything written against Store behaves the same on
// all of them.
package eventstore
