package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/payments"
)

// Verifier checks a provider's webhook signature.
type Verifier interface {
	Verify(payload []byte, signature string) (payments.ProviderEvent, error)
}

// Inbox takes the provider's webhooks: it verifies them and records them in
// the ledger, durably, before they are answered. The reconciler acts on
// them in log order as it follows the log.
type Inbox struct {
	Log      *app.Log
	Verifier Verifier
}

// Receive verifies and records one webhook. It returns an error wrapping
// payments.ErrBadSignature for anything not signed by the provider (nothing
// is recorded), and the store's error when recording failed (the provider
// redelivers).
func (in *Inbox) Receive(ctx context.Context, payload []byte, signature string) error {
	ev, err := in.Verifier.Verify(payload, signature)
	if err != nil {
		if !errors.Is(err, payments.ErrBadSignature) {
			err = fmt.Errorf("%w: %v", payments.ErrBadSignature, err)
		}
		return err
	}
	return app.RecordProviderEvent(ctx, in.Log, ev)
}
