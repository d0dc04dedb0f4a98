package http

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// listSubscriptions answers GET /v1/me/wallet/subscriptions: newest first,
// paged by cursor.
func (s *Server) listSubscriptions(c *gin.Context) {
	limit, err := limitParam(c, 20)
	if err != nil {
		fail(c, err)
		return
	}
	asOf, err := asOfParam(c)
	if err != nil {
		fail(c, err)
		return
	}
	items, next, err := s.cfg.Queries.Subscriptions(c.Request.Context(), userOf(c), projections.Page{Limit: limit, Cursor: c.Query("cursor"), AsOf: asOf})
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, list[projections.Subscription]{Data: nonNil(items), HasMore: next != "", NextCursor: next})
}

// getSubscription answers GET /v1/me/wallet/subscriptions/{id}; another
// user's is 404.
func (s *Server) getSubscription(c *gin.Context) {
	id, err := domain.ParseSubscriptionID(c.Param("subscription_id"))
	if err != nil {
		fail(c, notFound("no such subscription"))
		return
	}
	sub, err := s.cfg.Queries.Subscription(c.Request.Context(), userOf(c), string(id))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, sub)
}

// cancelSubscription answers DELETE /v1/me/wallet/subscriptions/{id}: the
// subscription canceled at once, or with at_period_end=true at its period's
// end; a canceled one unchanged.
func (s *Server) cancelSubscription(c *gin.Context) {
	id, err := domain.ParseSubscriptionID(c.Param("subscription_id"))
	if err != nil {
		fail(c, notFound("no such subscription"))
		return
	}
	cancel := s.cfg.Commands.CancelSubscription
	switch c.Query("at_period_end") {
	case "true":
		cancel = s.cfg.Commands.CancelAtPeriodEnd
	case "", "false":
	default:
		fail(c, invalidRequest("at_period_end", "at_period_end must be true or false"))
		return
	}
	s.answerSubscription(c, id, func(ctx context.Context) (eventstore.Position, error) { return cancel(ctx, userOf(c), id, metadata(c)) })
}

// updateSubscription answers PATCH /v1/me/wallet/subscriptions/{id}: its
// card and/or cancel_at_period_end changed.
func (s *Server) updateSubscription(c *gin.Context) {
	id, err := domain.ParseSubscriptionID(c.Param("subscription_id"))
	if err != nil {
		fail(c, notFound("no such subscription"))
		return
	}
	var body struct {
		PaymentMethodID   *string `json:"payment_method_id"`
		CancelAtPeriodEnd *bool   `json:"cancel_at_period_end"`
	}
	if err := decodeJSON(c, &body, true); err != nil {
		fail(c, err)
		return
	}
	var change app.SubscriptionChange
	if body.PaymentMethodID != nil {
		pm := domain.PaymentMethodID(*body.PaymentMethodID)
		change.PaymentMethodID = &pm
	}
	change.CancelAtPeriodEnd = body.CancelAtPeriodEnd
	s.answerSubscription(c, id, func(ctx context.Context) (eventstore.Position, error) {
		return s.cfg.Commands.UpdateSubscription(ctx, userOf(c), id, change, metadata(c))
	})
}

// answerSubscription runs a command on subscription id and answers the
// subscription as the read models show it once they show the command.
func (s *Server) answerSubscription(c *gin.Context, id domain.SubscriptionID, command func(context.Context) (eventstore.Position, error)) {
	ctx := c.Request.Context()
	pos, err := command(ctx)
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.caughtUp(ctx, pos); err != nil {
		fail(c, err)
		return
	}
	sub, err := s.cfg.Queries.Subscription(ctx, userOf(c), string(id))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, sub)
}
