// Package sqlite is the embedded event store: the default backend, durable
// on local disk with no server to run.
//
// The log is one SQLite table in WAL mode with synchronous=FULL, so an
// append is fsynced before it is acknowledged and survives kill -9 and power
// loss. One writer goroutine per process takes appends from a queue and
// commits everything queued in a single transaction (group commit): with many
// concurrent appenders they share one fsync instead of paying one each.
// Readers (ReadStream, ReadAll, subscriptions, and other processes such as
// `billing events export`) read committed snapshots concurrently with it.
//
// Global positions are SQLite rowids. SQLite serialises write transactions,
// so positions are assigned in commit order and a reader that has seen
// position p will never later see a new event below p: subscriptions cannot
// skip an event at the catch-up/live seam.
package sqlite
