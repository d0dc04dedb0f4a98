package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/domain"
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
	items, next, err := s.cfg.Queries.Subscriptions(c.Request.Context(), userOf(c), projections.Page{Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list[projections.Subscription]{Data: nonNil(items), HasMore: next != "", NextCursor: next})
}

// cancelSubscription answers DELETE /v1/me/wallet/subscriptions/{id}: the
// subscription canceled at once; a canceled one unchanged.
func (s *Server) cancelSubscription(c *gin.Context) {
	id, err := domain.ParseSubscriptionID(c.Param("subscription_id"))
	if err != nil {
		fail(c, notFound("no such subscription"))
		return
	}
	ctx := c.Request.Context()
	pos, err := s.cfg.Commands.CancelSubscription(ctx, userOf(c), id, metadata(c))
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
	c.JSON(http.StatusOK, sub)
}
