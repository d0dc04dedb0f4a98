// Package esdbtest runs an EventStoreDB stand-in on a loopback port, for
// tests: no EventStoreDB can run where the tests run, so the esdb adapter is
// tested against this gRPC server instead of a mock.
//
// It speaks the part of EventStoreDB's gRPC protocol the adapter (and the
// official Go client under it) uses, on the client module's own generated
// protos: Streams.Append and Streams.Read (stream reads, $all reads, $all
// catch-up subscriptions with server-side filters, confirmation, caught-up
// and checkpoint messages), ServerFeatures and Gossip (so cluster connection
// strings work), and a follower's "not leader" answer. Its storage is an eventstore.Store, the embedded SQLite
// store in tests, so the log is durable and a server can be stopped and
// restarted on the same port to test reconnection.
//
// It follows EventStoreDB's documented behaviour where the adapter depends
// on it:
//   - the idempotency table: an append whose event ids are already at the
//     revisions its expected revision implies succeeds and writes nothing,
//     answered with the original's position; a partial match is a wrong
//     expected version;
//   - WrongExpectedVersion with the stream's current revision;
//   - StreamNotFound for reads of a stream without events;
//   - $all in commit order; forward $all reads include the event at the
//     given position, subscriptions start after it; a position where no
//     event starts is an invalid read (EventStoreDB's positions are byte
//     offsets, so p-1 is inside the previous record);
//   - system events: the log starts with a few $-typed events in $-named
//     streams, as a fresh node's does, so filters are exercised;
//   - every event carries the type, content-type and created metadata
//     (created in .NET ticks since the Unix epoch; the client exits without
//     it);
//   - appends larger than the 1 MiB default maximum are refused.
//
// What it does not do: authentication, TLS, deletes and tombstones, stream
// subscriptions, persistent subscriptions, projections, link resolution,
// replication (gossip answers with one leader; FollowerOf makes a server
// answer "not leader" the way a follower does, without being a replica).
// Payloads are JSON only, because the port stores JSON.
//
// Where its storage makes it stricter than EventStoreDB: an event id
// already in the stream, appended again at the stream's head (exact
// revision = the current one), is refused as invalid, where EventStoreDB
// writes the duplicate (it checks ids only for retries); with Any or
// StreamExists, ids the stream already holds are matched against all its
// recent events, where EventStoreDB consults a cache of recent ids.
package esdbtest
