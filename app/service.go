package app

import (
	"context"
	"errors"

	"github.com/robotlabor/billing/payments"
)

var (
	// ErrNotFound: no such order or subscription for this user. Another
	// user's id is not found either.
	ErrNotFound = errors.New("not found")
	// ErrIdempotencyKeyReused: the key already placed an order with a
	// different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key already used with a different request")
)

// SetupProvider is what commands ask of the payment provider: the user's
// customer and the hosted page where a card is saved.
type SetupProvider interface {
	Name() string
	CreateCustomer(ctx context.Context, req payments.CreateCustomer) (string, error)
	CreateSetupSession(ctx context.Context, req payments.CreateSetupSession) (payments.SetupSession, error)
}

// Service runs the commands of the API against the ledger.
type Service struct {
	Log      *Log
	Provider SetupProvider
}
