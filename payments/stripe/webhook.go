package stripe

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/robotlabor/billing/payments"
	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// ErrBadSignature: a webhook is unsigned, wrongly signed or stale; nothing
// may be recorded from it. It is a payments.ErrBadSignature.
var ErrBadSignature = fmt.Errorf("stripe: %w", payments.ErrBadSignature)

// Tolerance is how old a webhook's signed timestamp may be.
const Tolerance = 300 * time.Second

// Webhooks verifies Stripe's webhook signatures.
type Webhooks struct {
	// Secrets are the endpoint's signing secrets (whsec_…). During a
	// rotation Stripe signs with each current secret (several v1
	// signatures); a payload is accepted when any secret verifies it.
	Secrets []string
}

// Verify checks payload against the Stripe-Signature header (timestamp
// within Tolerance, any v1 signature by any secret) and returns the event
// as the ledger records it. It returns ErrBadSignature otherwise.
func (w Webhooks) Verify(payload []byte, signature string) (payments.ProviderEvent, error) {
	if len(w.Secrets) == 0 {
		return payments.ProviderEvent{}, fmt.Errorf("%w: no webhook secret is configured", ErrBadSignature)
	}
	var (
		ev   stripego.Event
		last error
	)
	for _, secret := range w.Secrets {
		var err error
		ev, err = webhook.ConstructEventWithOptions(payload, signature, secret,
			webhook.ConstructEventOptions{Tolerance: Tolerance, IgnoreAPIVersionMismatch: true})
		if err == nil {
			last = nil
			break
		}
		last = err
	}
	if last != nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: %v", ErrBadSignature, last)
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: not a Stripe event", ErrBadSignature)
	}
	return payments.ProviderEvent{
		Provider: "stripe", ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC(),
		Object: json.RawMessage(ev.Data.Raw), PreviousAttributes: previous(ev.Data.PreviousAttributes),
	}, nil
}

func previous(attrs map[string]any) json.RawMessage {
	if len(attrs) == 0 {
		return nil
	}
	b, _ := json.Marshal(attrs)
	return b
}
