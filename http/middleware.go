package http

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDHeader = "Request-Id"

// requestID gives every request an id, echoed in the answer and logged,
// so a client's report of a 500 can be found in the logs.
func requestID(c *gin.Context) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := "req_" + hex.EncodeToString(b[:])
	c.Set(requestIDHeader, id)
	c.Header(requestIDHeader, id)
	c.Next()
}

// RequestObserver records each request's latency (metrics).
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// accessLog logs one line per request, with the errors handlers recorded,
// and reports it to obs.
func accessLog(log *slog.Logger, obs RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		took := time.Since(start)
		route, status := c.FullPath(), c.Writer.Status()
		obs.ObserveRequest(route, c.Request.Method, status, took)
		// Typed attributes, not key-value pairs: each pair given as two
		// values is boxed and converted again, for every request.
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("request_id", c.GetString(requestIDHeader)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		)
		if user := userOf(c); user != "" {
			attrs = append(attrs, slog.String("user_id", user))
		}
		if code := c.GetString(errorCodeKey); code != "" {
			attrs = append(attrs, slog.String("error_code", code))
		}
		if why := c.GetString(authReasonKey); why != "" {
			attrs = append(attrs, slog.String("auth", why))
		}
		level, msg := slog.LevelInfo, "request"
		if len(c.Errors) > 0 {
			level, msg = slog.LevelError, "request failed"
			attrs = append(attrs, slog.String("error", c.Errors.String()))
		}
		log.LogAttrs(c.Request.Context(), level, msg, attrs...)
	}
}

// recovery turns a panic into a logged 500 in the error envelope.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, err any) {
		log.Error("panic", "request_id", c.GetString(requestIDHeader), "panic", err)
		status, detail := toHTTP(nil)
		c.Abort()
		c.PureJSON(status, errorBody{Error: detail}) // no HTML escaping: messages read as written
	})
}

func noRoute(c *gin.Context) {
	fail(c, notFound("no such route: "+c.Request.Method+" "+c.Request.URL.Path))
}

func noMethod(c *gin.Context) {
	fail(c, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path})
}
