package http

import (
	"slices"
	"sort"
	"strconv"
	"strings"

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

// queryParams are the query parameters each API route defines (api.md);
// a route not listed defines none.
var queryParams = map[string][]string{
	"GET /v1/me/payment-methods":                          {"limit", "cursor", "as_of"},
	"GET /v1/me/wallet/orders":                            {"limit", "after_public_id", "order_by_asc", "order_by_desc", "as_of"},
	"GET /v1/me/wallet/subscriptions":                     {"limit", "cursor", "as_of"},
	"DELETE /v1/me/wallet/subscriptions/:subscription_id": {"at_period_end"},
}

// knownQuery refuses, with 400 invalid_request naming it, a query
// parameter the route does not define: a client sending ?cursor= where
// the route pages with after_public_id would otherwise get the first page
// again, and page for ever.
func knownQuery(method, path string) gin.HandlerFunc {
	allowed := queryParams[method+" "+path]
	return func(c *gin.Context) {
		var unknown []string
		for name := range c.Request.URL.Query() {
			if !slices.Contains(allowed, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			c.Next()
			return
		}
		sort.Strings(unknown)
		msg := "this route takes no query parameters"
		if len(allowed) > 0 {
			msg = "this route's query parameters are " + strings.Join(allowed, ", ")
		}
		fail(c, invalidRequest(unknown[0], "unknown query parameter "+strings.Join(unknown, ", ")+": "+msg))
	}
}
