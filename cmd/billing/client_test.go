package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// client is one user of the API over real HTTP.
type client struct {
	t     testing.TB
	s     *service
	token string
	http  *http.Client // nil: apiClient, which checks every exchange against the OpenAPI document
}

func (s *service) user(t testing.TB, id string) *client {
	t.Helper()
	tok, err := s.Keys.Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, s: s, token: tok}
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t testing.TB, into any) {
	t.Helper()
	if err := json.Unmarshal(a.body, into); err != nil {
		t.Fatalf("answer %d is not the JSON expected: %v\n%s", a.status, err, a.body)
	}
}

// errCode is the error envelope's code ("" when the body is not one).
func (a answer) errCode() (code, param string) {
	var e struct {
		Error struct{ Code, Param, Message string }
	}
	if json.Unmarshal(a.body, &e) != nil || e.Error.Message == "" {
		return "", ""
	}
	return e.Error.Code, e.Error.Param
}

func (c *client) call(method, path string, body any, header ...string) answer {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.s.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	hc := c.http
	if hc == nil {
		hc = apiClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// want fails unless the answer has the status and, for errors, the code.
func (c *client) want(a answer, status int, code string) answer {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("got %d, want %d: %s", a.status, status, a.body)
	}
	if code != "" {
		if got, _ := a.errCode(); got != code {
			c.t.Fatalf("got error code %q, want %q: %s", got, code, a.body)
		}
	}
	return a
}

type setupAnswer struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// startSetup asks for a hosted card page.
func (c *client) startSetup() setupAnswer {
	c.t.Helper()
	var got setupAnswer
	c.want(c.call(http.MethodPost, "/v1/me/payment-methods", nil), http.StatusCreated, "").decode(c.t, &got)
	return got
}

// submitCard posts the sandbox page's form as a browser would.
func submitCard(t testing.TB, pageURL, number string) *http.Response {
	t.Helper()
	form := url.Values{"card_number": {number}, "exp_month": {"12"}, "exp_year": {"2034"}, "cvc": {"123"}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(pageURL, form)
	if err != nil {
		t.Fatalf("submit card page: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

type paymentMethod struct {
	ID       string `json:"id"`
	Brand    string `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
}

// saveCard saves a test card through the hosted page and returns its id.
func (c *client) saveCard(number string) string {
	c.t.Helper()
	setup := c.startSetup()
	if resp := submitCard(c.t, setup.URL, number); resp.StatusCode != http.StatusOK {
		c.t.Fatalf("saving card %s: page answered %d", number, resp.StatusCode)
	}
	var got struct{ Data []paymentMethod }
	c.want(c.call(http.MethodGet, "/v1/me/payment-methods?limit=1", nil), http.StatusOK, "").decode(c.t, &got)
	if len(got.Data) != 1 || got.Data[0].Last4 != number[len(number)-4:] {
		c.t.Fatalf("after saving %s the newest card is %+v", number, got.Data)
	}
	return got.Data[0].ID
}

type order struct {
	ID              string     `json:"id"`
	PlanID          string     `json:"plan_id"`
	Status          string     `json:"status"`
	Currency        string     `json:"currency"`
	Amount          int64      `json:"amount"`
	IsRefundable    bool       `json:"is_refundable"`
	CreatedAt       time.Time  `json:"created_at"`
	PaymentMethodID string     `json:"payment_method_id"`
	SubscriptionID  *string    `json:"subscription_id"`
	FailureCode     *string    `json:"failure_code"`
	RefundedAt      *time.Time `json:"refunded_at"`
}

// buy places an order that must be accepted, and returns it.
func (c *client) buy(body map[string]any) order {
	c.t.Helper()
	var o order
	c.want(c.call(http.MethodPost, "/v1/me/wallet/orders", body), http.StatusCreated, "").decode(c.t, &o)
	return o
}

type orderPage struct {
	Data       []order `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor string  `json:"next_cursor"`
}

func (c *client) orders(query string) orderPage {
	c.t.Helper()
	var p orderPage
	c.want(c.call(http.MethodGet, "/v1/me/wallet/orders"+query, nil), http.StatusOK, "").decode(c.t, &p)
	return p
}

type subscription struct {
	ID                 string     `json:"id"`
	PlanID             string     `json:"plan_id"`
	OrderID            string     `json:"order_id"`
	Status             string     `json:"status"`
	CurrentPeriodStart *time.Time `json:"current_period_start"`
	CurrentPeriodEnd   *time.Time `json:"current_period_end"`
	PaymentMethodID    string     `json:"payment_method_id"`
	CancelAtPeriodEnd  bool       `json:"cancel_at_period_end"`
	CancelReason       *string    `json:"cancel_reason"`
	CanceledAt         *time.Time `json:"canceled_at"`
	CreatedAt          time.Time  `json:"created_at"`
}

func (c *client) subscriptions() []subscription {
	c.t.Helper()
	var p struct{ Data []subscription }
	c.want(c.call(http.MethodGet, "/v1/me/wallet/subscriptions", nil), http.StatusOK, "").decode(c.t, &p)
	return p.Data
}

// newestSubscription lists c's subscriptions and returns the newest; a
// test that expects one fails, rather than panics, when the list is empty.
func (c *client) newestSubscription() subscription {
	c.t.Helper()
	subs := c.subscriptions()
	if len(subs) == 0 {
		c.t.Fatal("no subscription listed")
	}
	return subs[0]
}

// sandboxCount counts rows at the payment provider itself (the sandbox's
// own database), not in the ledger: what really moved money.
func (s *service) sandboxCount(t *testing.T, query string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.Config.sandboxPath()+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *service) sandboxCharges(t *testing.T) int {
	return s.sandboxCount(t, `SELECT count(*) FROM charges WHERE status = 'succeeded'`)
}

func (s *service) sandboxRefunds(t *testing.T) int {
	return s.sandboxCount(t, `SELECT count(*) FROM refunds`)
}

// waitFor re-checks cond after every change of the read models until it
// holds; it fails after a generous bound (a hang, not a timing assertion).
func waitFor(t *testing.T, s *service, cond func() bool, what string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		changed := s.Projector.Changed()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// eventually polls cond until it holds, for conditions no read model change
// signals (the reconciler's progress); bounded, a hang guard.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
