// Package sandbox is the embedded payment provider: a stand-in for Stripe's
// test mode, so the whole product runs on a machine with no network. It is
// the default provider when no Stripe key is configured.
//
// It behaves like Stripe where the ledger can tell: customers, card setup
// sessions with a hosted page (served by [Sandbox.Handler] under /sandbox/),
// Stripe's test card numbers and their outcomes, off-session charges,
// full refunds, subscriptions, and idempotency keys (a retry with the same
// key returns the first result and moves no money; the same key with other
// parameters is an error). Its state lives in one SQLite file, so a restart
// forgets nothing.
//
// A completed setup session is news for the ledger, as Stripe's
// checkout.session.completed webhook is: the completion and an outbox entry
// are written in one transaction, then handed to Config.OnSetupCompleted at
// once; a delivery that fails is retried by [Sandbox.Run] until it succeeds.
//
// The card number typed on the page is never stored: only brand, last four
// digits, expiry and the test card's charge behaviour are kept.
//
// Where it sits: the reconciler calls it (through its own small interfaces)
// to move money; the http layer mounts its page; cmd/billing wires both.
package sandbox
