package http

import (
	"strconv"

	"github.com/gin-gonic/gin"
)

// limitParam reads ?limit=, def when absent, and refuses anything but an
// integer in 1..100 with a 400.
func limitParam(c *gin.Context, def int) (int, error) {
	raw, ok := c.GetQuery("limit")
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100 {
		return 0, invalidRequest("limit", "limit must be an integer from 1 to 100")
	}
	return n, nil
}
