package stripe_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments/stripe"
	"github.com/stripe/stripe-go/v76/webhook"
)

const (
	secret    = "whsec_current"
	oldSecret = "whsec_previous"
)

func payload(id, typ string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"api_version":"2023-10-16","created":1767225600,`+
		`"data":{"object":{"id":"cs_test_1","object":"checkout.session","mode":"setup"}}}`, id, typ))
}

// sign returns the Stripe-Signature header for body, signed at t with each secret.
func sign(body []byte, t time.Time, secrets ...string) string {
	header := fmt.Sprintf("t=%d", t.Unix())
	for _, s := range secrets {
		header += fmt.Sprintf(",v1=%x", webhook.ComputeSignature(t, body, s))
	}
	return header
}

func TestWebhookSignatures(t *testing.T) {
	now := time.Now()
	body := payload("evt_1", "checkout.session.completed")
	hooks := stripe.Webhooks{Secrets: []string{secret}}

	ev, err := hooks.Verify(body, sign(body, now, secret))
	if err != nil || ev.ID != "evt_1" || ev.Type != "checkout.session.completed" || ev.Provider != "stripe" ||
		string(ev.Object) == "" || ev.Created.IsZero() {
		t.Fatalf("a well-signed event = %+v, %v", ev, err)
	}
	// During a secret rotation Stripe sends a signature per secret.
	if _, err := hooks.Verify(body, sign(body, now, oldSecret, secret)); err != nil {
		t.Fatalf("two v1 signatures, one ours: %v", err)
	}
	rotating := stripe.Webhooks{Secrets: []string{oldSecret, secret}}
	if _, err := rotating.Verify(body, sign(body, now, secret)); err != nil {
		t.Fatalf("two configured secrets, signed by the second: %v", err)
	}
	tampered := payload("evt_1", "payment_intent.succeeded")
	for name, tc := range map[string]struct {
		body   []byte
		header string
	}{
		"unsigned":       {body, ""},
		"garbage header": {body, "nonsense"},
		"another secret": {body, sign(body, now, "whsec_someone_else")},
		"tampered body":  {tampered, sign(body, now, secret)},
		"stale":          {body, sign(body, now.Add(-stripe.Tolerance-time.Minute), secret)},
		"not an event":   {[]byte(`{}`), sign([]byte(`{}`), now, secret)},
	} {
		if _, err := hooks.Verify(tc.body, tc.header); !errors.Is(err, stripe.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := (stripe.Webhooks{}).Verify(body, sign(body, now, secret)); !errors.Is(err, stripe.ErrBadSignature) {
		t.Errorf("no secret configured: %v, want ErrBadSignature", err)
	}
}
