package http

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// healthz answers 200 while the process serves at all.
func (s *Server) healthz(c *gin.Context) {
	c.PureJSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 200 when every dependency the service needs is ready, and
// 503 naming the first that is not.
func (s *Server) readyz(c *gin.Context) {
	if err := s.cfg.Ready(c.Request.Context()); err != nil {
		c.PureJSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": err.Error()})
		return
	}
	c.PureJSON(http.StatusOK, gin.H{"status": "ready"})
}
