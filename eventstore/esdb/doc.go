// Package esdb is the event store on EventStoreDB / KurrentDB, for
// deployments where the log outgrows one machine: several billing instances
// share one cluster. It adapts the official gRPC client
// (github.com/EventStore/EventStore-Client-Go/v4/esdb) to eventstore.Store
// and passes the same contract suite as the embedded store.
//
// How the port maps onto EventStoreDB:
//
//   - Expected revisions map one to one (NoStream, StreamExists, Any, an
//     exact revision). A wrong expected version becomes an
//     *eventstore.ConflictError.
//   - Idempotency is EventStoreDB's own: an append repeated with the same
//     event ids at the same expected revision succeeds and writes nothing.
//     The server guarantees this durably only for NoStream and exact
//     revisions (with Any it is best effort, from a cache), which is why
//     the application appends with those only. The server answers such a
//     retry with the original's position, or, when that is not yet
//     replicated, without one: the adapter then reads it, so a retry
//     returns the first result. Unlike the embedded store, EventStoreDB
//     writes an id the stream already holds when it comes at the stream's
//     head: its id check is for retries, not a uniqueness constraint.
//   - Positions: a port Position is the event's commit position in $all.
//     Events appended over gRPC have equal commit and prepare positions, so
//     one number is enough to resume: the adapter asks for (p, p). Only
//     events written in explicit transactions (TCP clients, never this
//     service) share a commit position.
//   - Stream reads carry $all positions on current servers (22.6 on);
//     older servers are refused with a clear error rather than served
//     events without positions.
//   - System events ($-prefixed types: statistics, metadata, users…) are
//     not the ledger's: subscriptions filter them out on the server
//     (ExcludeSystemEventsFilter); $all reads, which the client cannot
//     filter, skip them here; Head is the last non-system event.
//   - Subscriptions reconnect by themselves after the server restarts or
//     drops them, and resume after the last event they delivered, so a
//     consumer sees every event once, in order. Errors that retrying cannot
//     fix (access denied, no positions) end them, and Next says why.
//   - Calls go to the leader and, while the node is unreachable, wait at a
//     gate bounded by their context and Config.FailoverWait; conn.go says
//     which client defects this works around.
package esdb
