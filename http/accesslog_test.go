package http

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type refuseAll struct{ PlanSource }

func (refuseAll) Verify(string) (string, error) {
	return "", errors.New("auth: unauthorized: the token has expired")
}

// TestAccessLogSaysWhy: a request's log line says which request it was
// and how it ended, with its error code and, for a 401, why the token was
// refused.
func TestAccessLogSaysWhy(t *testing.T) {
	var buf bytes.Buffer
	s, err := New(Config{
		Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Auth: refuseAll{}, Plans: refuseAll{}, Commands: struct{ Commands }{}, Queries: struct{ Queries }{}, Progress: struct{ Progress }{},
		Ready: func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/v1/me/wallet/orders", nil)
	req.Header.Set("Authorization", "Bearer stale")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	line := buf.String()
	if rec.Code != http.StatusUnauthorized || !strings.Contains(line, "error_code=unauthorized") || !strings.Contains(line, `auth="the token has expired"`) {
		t.Fatalf("401 logged as %q", line)
	}
	for _, field := range []string{"level=INFO msg=request request_id=" + rec.Header().Get(requestIDHeader) + " ", "method=GET ",
		"route=/v1/me/wallet/orders ", "path=/v1/me/wallet/orders ", "status=401 ", "duration_ms="} {
		if !strings.Contains(line, " "+field) {
			t.Errorf("log line %q has no %s", line, field)
		}
	}
}
