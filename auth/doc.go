// Package auth issues and verifies the bearer tokens of the API: HS256 JWTs
// whose subject is the user id, signed with the service's key. The key is
// BILLING_JWT_SECRET, or one generated once into the data directory, so that
// `billing token` and `billing serve` on the same data dir agree.
package auth
