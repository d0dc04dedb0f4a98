package http

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/projections"
)

// listPaymentMethods answers GET /v1/me/payment-methods: saved cards,
// newest first, paged by cursor.
func (s *Server) listPaymentMethods(c *gin.Context) {
	limit, err := limitParam(c, 10)
	if err != nil {
		fail(c, err)
		return
	}
	asOf, err := asOfParam(c)
	if err != nil {
		fail(c, err)
		return
	}
	items, next, err := s.cfg.Queries.PaymentMethods(c.Request.Context(), userOf(c), projections.Page{Limit: limit, Cursor: c.Query("cursor"), AsOf: asOf})
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusOK, list[projections.PaymentMethod]{Data: nonNil(items), HasMore: next != "", NextCursor: next})
}

type setupRequest struct {
	ReturnURL *string `json:"return_url"`
}

type setupSession struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createSetupSession answers POST /v1/me/payment-methods: a hosted page
// where the user saves a card.
func (s *Server) createSetupSession(c *gin.Context) {
	var req setupRequest
	if err := decodeJSON(c, &req, true); err != nil {
		fail(c, err)
		return
	}
	returnURL := ""
	if req.ReturnURL != nil {
		returnURL = *req.ReturnURL
		if err := checkReturnURL(returnURL); err != nil {
			fail(c, err)
			return
		}
	}
	setup, err := s.cfg.Commands.StartCardSetup(c.Request.Context(), userOf(c), returnURL, metadata(c))
	if err != nil {
		fail(c, err)
		return
	}
	c.PureJSON(http.StatusCreated, setupSession{ID: string(setup.SessionID), URL: setup.URL, ExpiresAt: setup.ExpiresAt.UTC()})
}

func checkReturnURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > 2048:
		return validationFailed("return_url", "return_url must be an absolute http(s) URL of at most 2048 characters")
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return validationFailed("return_url", "return_url must be an absolute http(s) URL")
	}
	return nil
}

func metadata(c *gin.Context) app.Metadata {
	return app.Metadata{CorrelationID: c.GetString(requestIDHeader)}
}

func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
