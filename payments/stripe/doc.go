// Package stripe is the Stripe payment provider, through stripe-go: one
// Stripe customer per user, card setup in Stripe Checkout (setup mode),
// off-session PaymentIntents for one-time orders, Subscriptions on a plan's
// Stripe price for recurring ones, Refunds, and immediate cancellation.
//
// Every mutating call carries the caller's idempotency key (derived from the
// ledger event that caused it), so Stripe answers a retry with the first
// result. A card error is a result (Failed, with Stripe's decline code); any
// other error means the outcome is unknown and the caller retries with the
// same key. Webhooks are verified and recorded elsewhere (package
// reconciler); this package only makes calls.
package stripe
