// Package projections owns the read models behind the list endpoints:
// payment methods, orders and subscriptions, one row per entity, in their own
// SQLite database beside the event store.
//
// It sits downstream of the log:
//
//	event store ──SubscribeAll──> Projector ──one txn per batch──> read models <── http queries
//
// The Projector folds every event into the tables with the same state machine
// as the domain aggregates, and writes its checkpoint (the global position of
// the last event applied) in the same transaction as the rows that event
// changed: after a crash the rows and the checkpoint agree, so no event is
// lost or applied twice. Because the log is the ledger, the read models are
// disposable: Rebuild folds the whole log into a fresh file and swaps it in
// (what `billing projections rebuild` runs), and Verify folds the log aside
// up to the live checkpoint and compares row by row (what `billing verify`
// runs, also beside a running server).
//
// The queries answer per user: another user's id behaves exactly as an id
// that does not exist. Lists page by keyset on the indexes, never by offset,
// so a page is as cheap as the first one and concurrent inserts neither skip
// nor repeat rows.
//
// One process at a time writes the read models: Open and Rebuild hold an
// exclusive lock on the file beside the database, OpenReadOnly and Verify
// take none.
package projections
