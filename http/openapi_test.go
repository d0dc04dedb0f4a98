package http_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	billinghttp "github.com/robotlabor/billing/http"
)

// TestOpenAPIDocumentCoversTheRouter: docs/openapi.yaml is a valid OpenAPI
// document, and it describes exactly the routes the server serves (with the
// optional /metrics and sandbox pages mounted): no route missing from the
// document, no operation the router does not serve.
func TestOpenAPIDocumentCoversTheRouter(t *testing.T) {
	doc := loadOpenAPI(t)

	var want []string
	for _, r := range newServer(t).Routes() {
		want = append(want, r.Method+" "+openAPIPath(r.Path))
	}
	var got []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			got = append(got, method+" "+path)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	for _, route := range want {
		if !slices.Contains(got, route) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", route)
		}
	}
	for _, op := range got {
		if !slices.Contains(want, op) {
			t.Errorf("docs/openapi.yaml has %s, which the router does not serve", op)
		}
	}
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("docs/openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableMultiError()); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document:\n%v", err)
	}
	return doc
}

// newServer builds the server with every optional route mounted. Its
// dependencies are never called: only the route table is read.
func newServer(t *testing.T) *billinghttp.Server {
	t.Helper()
	var never unused
	s, err := billinghttp.New(billinghttp.Config{
		Addr:           "127.0.0.1:0",
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth:           never,
		Plans:          never,
		Commands:       never,
		Queries:        never,
		Progress:       never,
		Ready:          func(context.Context) error { return nil },
		MetricsHandler: http.NotFoundHandler(),
		Sandbox:        http.NotFoundHandler(),
		Webhooks:       never,
		Clocks:         never,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unused stands in for every port of the server; calling it would panic.
type unused struct {
	billinghttp.Verifier
	billinghttp.PlanSource
	billinghttp.Commands
	billinghttp.Queries
	billinghttp.Progress
	billinghttp.Webhooks
	billinghttp.Clocks
}

// openAPIPath turns gin's /orders/:order_id (or *rest) into /orders/{order_id}.
func openAPIPath(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// TestOpenAPISecurityMatchesTheRouter: every operation declares its
// security: the bearer token where the router asks for one, `security: []`
// on the public ones (a linter's recommended rules ask for it).
func TestOpenAPISecurityMatchesTheRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, r := range newServer(t).Routes() {
		op := doc.Paths.Find(openAPIPath(r.Path)).GetOperation(r.Method)
		switch {
		case op == nil:
			t.Errorf("%s %s is not in the document", r.Method, r.Path)
		case op.Security == nil:
			t.Errorf("%s %s declares no security", r.Method, r.Path)
		case r.Auth != (len(*op.Security) > 0):
			t.Errorf("%s %s: the router asks for a token: %v; the document: %v", r.Method, r.Path, r.Auth, *op.Security)
		}
	}
}
