package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/projections"
)

// Error is a refusal by the HTTP layer itself, with its status and code.
type Error struct {
	Status  int
	Code    string
	Message string
	Param   string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func notFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

// errorBody is the envelope of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// domainStatus maps the domain's refusal codes to statuses. A business rule
// refused on a well-formed request is 422; a state conflict is 409.
var domainStatus = map[string]int{
	"order_not_refundable":  http.StatusConflict,
	"subscription_canceled": http.StatusConflict,
}

// toHTTP is the one place where an error becomes a status and a body. An
// error of no known kind is a 500 whose message reveals nothing internal.
func toHTTP(err error) (int, errorDetail) {
	var he *Error
	switch {
	case errors.As(err, &he):
		return he.Status, errorDetail{Code: he.Code, Message: he.Message, Param: he.Param}
	case errors.Is(err, app.ErrNotFound), errors.Is(err, projections.ErrNotFound):
		return http.StatusNotFound, errorDetail{Code: "not_found", Message: "no such resource"}
	case errors.Is(err, projections.ErrInvalidCursor):
		return http.StatusBadRequest, errorDetail{Code: "invalid_request", Message: "cursor is not a cursor of this list", Param: "cursor"}
	case errors.Is(err, app.ErrIdempotencyKeyReused):
		return http.StatusConflict, errorDetail{Code: "idempotency_key_reused",
			Message: "this idempotency key was already used with a different request"}
	}
	var de *domain.Error
	if errors.As(err, &de) {
		status, ok := domainStatus[de.Code]
		if !ok {
			status = http.StatusUnprocessableEntity
		}
		return status, errorDetail{Code: de.Code, Message: de.Message, Param: de.Param}
	}
	return http.StatusInternalServerError, errorDetail{Code: "internal", Message: "internal error; the request id identifies it in the server's logs"}
}

// statusClientClosed is nginx's "client closed request": the client left
// before the answer; nothing failed on the server's side.
const statusClientClosed = 499

// fail answers err in the error envelope and records it for the access log.
func fail(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.AbortWithStatus(statusClientClosed)
		return
	}
	status, detail := toHTTP(err)
	c.Set(errorCodeKey, detail.Code)
	if status >= 500 {
		_ = c.Error(err) // logged with the request id, never sent
	}
	c.Abort()
	c.PureJSON(status, errorBody{Error: detail}) // no HTML escaping: messages read as written
}
