// Package relay publishes the ledger to NATS JetStream: every event of the
// log, in log order, on the subject billing.<type> of the stream BILLING,
// with Nats-Msg-Id set to the event id and the body of events.md.
//
// Exactly once in the stream, without relying on JetStream's duplicate
// window: the relay resumes after the last event already in the stream
// (its position is in the message body), and publishes every message with
// the stream's expected last sequence, so a second relay racing it (two
// serve instances on one store) cannot publish an event twice: the loser's
// publish is refused, and it re-reads the stream's tail and continues from
// there. When NATS is down nothing is lost: the log keeps taking events and
// the relay catches up when it returns.
//
// The package also starts the embedded nats-server that serve runs when
// no external NATS is configured.
package relay
