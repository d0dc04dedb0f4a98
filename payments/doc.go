// Package payments holds what every payment provider speaks: the requests
// the billing service makes (customers, card setup sessions, off-session
// charges, refunds, subscriptions) and the results it gets back.
//
// The providers live in sub-packages: sandbox (the embedded stand-in that
// behaves like Stripe's test mode, the default) and stripe. The interfaces
// they satisfy are declared by their consumers (the http layer for setup, the
// reconciler for money movements), each with just the calls it makes.
//
// Every mutating request carries an IdempotencyKey derived from the ledger
// event that caused it: a retry with the same key returns the first result
// and never moves money twice. A returned error means the outcome is
// unknown (timeout, 5xx, network): retry with the same key; except
// ErrInvalidRequest and ErrNotFound, which say that nothing happened and a
// retry cannot help. A declined card is a result with Status Failed, not an
// error.
package payments
