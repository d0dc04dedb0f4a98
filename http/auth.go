package http

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Verifier checks a bearer token and returns its user id.
type Verifier interface {
	Verify(token string) (userID string, err error)
}

const (
	userKey       = "user_id"
	authReasonKey = "auth_reason" // why a token was refused
	errorCodeKey  = "error_code"  // the code of an error answer, for the access log
)

// authenticate admits requests with a valid bearer token; every other one
// is a 401 in the error envelope.
func (s *Server) authenticate(c *gin.Context) {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="billing"`)
		fail(c, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a bearer token is required (Authorization: Bearer <token>)"})
		return
	}
	user, err := s.cfg.Auth.Verify(strings.TrimSpace(token))
	if err != nil {
		why := strings.TrimPrefix(err.Error(), "auth: unauthorized: ")
		c.Header("WWW-Authenticate", `Bearer realm="billing", error="invalid_token"`)
		c.Set(authReasonKey, why) // for the access log
		fail(c, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "the bearer token is refused: " + why})
		return
	}
	c.Set(userKey, user)
	c.Next()
}

func userOf(c *gin.Context) string { return c.GetString(userKey) }
