package http

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/payments"
)

// Webhooks receives a payment provider's signed webhooks.
type Webhooks interface {
	Receive(ctx context.Context, payload []byte, signature string) error
}

// maxWebhookBody bounds a webhook's body; Stripe's events can be larger
// than the API's 64 KiB.
const maxWebhookBody = 1 << 20

// stripeWebhook answers POST /v1/webhooks/stripe: 2xx only once the event
// is durably recorded, 400 for anything not signed by Stripe.
func (s *Server) stripeWebhook(c *gin.Context) {
	payload, err := io.ReadAll(c.Request.Body) // limited by the route's MaxBody
	if err != nil {
		fail(c, tooLarge(maxWebhookBody))
		return
	}
	err = s.cfg.Webhooks.Receive(c.Request.Context(), payload, c.GetHeader("Stripe-Signature"))
	if errors.Is(err, payments.ErrBadSignature) {
		fail(c, invalidRequest("Stripe-Signature", "the webhook is not signed by Stripe, or its signature is too old"))
		return
	}
	if err != nil {
		fail(c, err) // 500: Stripe redelivers
		return
	}
	c.PureJSON(http.StatusOK, gin.H{"received": true})
}
