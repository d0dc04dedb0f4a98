package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// apiClient sends every request of client.call. Its transport checks each
// exchange against docs/openapi.yaml, so every end-to-end API test is also a
// test of the document: an answer whose status, headers or body the
// document does not describe fails the request, and so the test.
var apiClient = &http.Client{Transport: contractCheck{next: http.DefaultTransport}}

// openAPIRouter finds a request's operation in docs/openapi.yaml, loaded
// and validated once.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		return nil, fmt.Errorf("load docs/openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// The document's server is the default listen address; the tests'
	// services listen on free ports, so match on paths alone.
	doc.Servers = nil
	// The sandbox's pages are HTML, which the filter reads as plain text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	return gorillamux.NewRouter(doc)
})

// contractCheck is an http.RoundTripper that validates each exchange with
// openapi3filter. It checks the request's operation, path and header
// parameters, but neither its body nor its query: the tests send malformed
// ones on purpose, and it is the answers to them that must be documented.
// It checks the whole answer: a documented status, the documented headers,
// and a body of a documented media type that matches its schema.
type contractCheck struct {
	next http.RoundTripper
}

func (c contractCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	route, params, err := findOperation(req)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := checkExchange(req, route, params, resp, body); err != nil {
		return nil, fmt.Errorf("docs/openapi.yaml does not describe %s %s answering %d: %w\nbody: %.2000s",
			req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return resp, nil
}

func findOperation(req *http.Request) (*routers.Route, map[string]string, error) {
	router, err := openAPIRouter()
	if err != nil {
		return nil, nil, err
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil, nil, fmt.Errorf("docs/openapi.yaml has no operation %s %s: %w", req.Method, req.URL.Path, err)
	}
	return route, params, nil
}

func checkExchange(req *http.Request, route *routers.Route, params map[string]string, resp *http.Response, body []byte) error {
	ctx := context.Background()
	// The request was sent: validate a copy without its body.
	sent := req.Clone(ctx)
	sent.Body, sent.GetBody, sent.ContentLength = http.NoBody, nil, 0
	in := &openapi3filter.RequestValidationInput{
		Request:    sent,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			ExcludeRequestBody:        true,
			ExcludeRequestQueryParams: true,
			AuthenticationFunc:        anyCredentials,
			MultiError:                true,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	return nil
}

// anyCredentials admits every request to the operation's security check:
// whether a token is good is the server's call, and its 401 answer is what
// gets validated.
func anyCredentials(context.Context, *openapi3filter.AuthenticationInput) error { return nil }

// TestOpenAPIDescribesTheOtherRoutes sends through apiClient what the API
// tests send through other clients: the operations routes and the sandbox's
// hosted page in each of its states.
func TestOpenAPIDescribesTheOtherRoutes(t *testing.T) {
	s := startService(t, t.TempDir())
	send := func(method, path, contentType, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		page := &http.Client{
			Transport:     apiClient.Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		resp, err := page.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	card := func(number string) string {
		return url.Values{"card_number": {number}, "exp_month": {"12"}, "exp_year": {"2034"}, "cvc": {"123"}}.Encode()
	}
	const form = "application/x-www-form-urlencoded"
	alice := s.user(t, "alice")
	alice.buy(orderBody(alice.saveCard(visa), fixedPlan, "k1"))

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		send(http.MethodGet, s.base+path, "", "")
	}
	page := alice.startSetup().URL
	for _, tc := range []struct {
		method, url, contentType, body string
		want                           int
	}{
		{http.MethodGet, page, "", "", http.StatusOK},
		{http.MethodPost, page, form, card("4242424242424241"), http.StatusBadRequest},
		{http.MethodPost, page, form, card(rejected), http.StatusPaymentRequired},
		{http.MethodPost, page, form, strings.Repeat("x", 65<<10), http.StatusRequestEntityTooLarge},
		{http.MethodPost, page, form, card(visa), http.StatusOK},
		{http.MethodGet, page, "", "", http.StatusConflict},
		{http.MethodPost, page, form, card(visa), http.StatusConflict},
		{http.MethodGet, s.base + "/sandbox/setup/cs_00000000000000000000000000000000", "", "", http.StatusNotFound},
	} {
		if got := send(tc.method, tc.url, tc.contentType, tc.body).StatusCode; got != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.url, got, tc.want)
		}
	}
	var setup setupAnswer
	alice.want(alice.call(http.MethodPost, "/v1/me/payment-methods", `{"return_url":"https://app.example/cards"}`), http.StatusCreated, "").decode(t, &setup)
	if got := send(http.MethodPost, setup.URL, form, card(mastercard)).StatusCode; got != http.StatusSeeOther {
		t.Errorf("POST the page with a return_url = %d, want 303", got)
	}
}
