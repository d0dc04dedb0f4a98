package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
)

// start is the test clock's first reading: mid-March 2026, UTC.
var start = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu   sync.Mutex
	now  time.Time
	real bool // the real time instead, for benchmarks
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// inbox is the ledger's side of OnSetupCompleted: it fails its first
// `failures` calls, then records what it receives.
type inbox struct {
	mu       sync.Mutex
	failures int
	calls    int
	got      []payments.SetupCompleted
}

func (b *inbox) receive(_ context.Context, e payments.SetupCompleted) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls <= b.failures {
		return errors.New("ledger unavailable")
	}
	b.got = append(b.got, e)
	return nil
}

func (b *inbox) events() []payments.SetupCompleted {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]payments.SetupCompleted(nil), b.got...)
}

func (b *inbox) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// env is a sandbox on a real SQLite file with its page on a loopback server.
type env struct {
	t     testing.TB
	path  string
	clock *clock
	inbox *inbox
	sb    *Sandbox
	srv   *httptest.Server
	seq   int
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "sandbox.db"), clock: &clock{now: start}, inbox: &inbox{}}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	sb, err := Open(context.Background(), Config{
		Path:             e.path,
		PublicURL:        "http://" + srv.Listener.Addr().String(),
		Now:              e.clock.Now,
		OnSetupCompleted: e.inbox.receive,
		RetryInterval:    5 * time.Millisecond,
	})
	if err != nil {
		srv.Close()
		e.t.Fatalf("Open: %v", err)
	}
	srv.Config.Handler = sb.Handler()
	srv.Start()
	e.sb, e.srv = sb, srv
}

func (e *env) close() {
	if e.sb == nil {
		return
	}
	e.srv.Close()
	if err := e.sb.Close(); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	e.sb, e.srv = nil, nil
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) key() string {
	e.seq++
	return "key_" + e.t.Name() + "_" + itoa(int64(e.seq))
}

func (e *env) customer() string {
	e.t.Helper()
	id, err := e.sb.CreateCustomer(context.Background(), payments.CreateCustomer{UserID: "user_1", IdempotencyKey: e.key()})
	if err != nil {
		e.t.Fatalf("CreateCustomer: %v", err)
	}
	return id
}

func (e *env) session(customerID, returnURL string) payments.SetupSession {
	e.t.Helper()
	ss, err := e.sb.CreateSetupSession(context.Background(), payments.CreateSetupSession{
		CustomerID: customerID, UserID: "user_1", SessionID: "cs_ledger_" + itoa(int64(e.seq)),
		ReturnURL: returnURL, IdempotencyKey: e.key(),
	})
	if err != nil {
		e.t.Fatalf("CreateSetupSession: %v", err)
	}
	return ss
}

// pageURL is the session's page on the current server (the port changes on reopen).
func (e *env) pageURL(ss payments.SetupSession) string {
	return e.srv.URL + setupPath + ss.ProviderSessionID
}

// saveCard completes a new session of customerID with number and returns the saved card.
func (e *env) saveCard(customerID, number string) payments.Card {
	e.t.Helper()
	before := len(e.inbox.events())
	ss := e.session(customerID, "")
	if got := e.post(e.pageURL(ss), typedCard(number)); got.status != http.StatusOK {
		e.t.Fatalf("saving %s: status %d, body:\n%s", number, got.status, got.body)
	}
	events := e.inbox.events()
	if len(events) != before+1 {
		e.t.Fatalf("saving %s: %d completions delivered, want 1", number, len(events)-before)
	}
	return events[len(events)-1].Card
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.sb.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func typedCard(number string) url.Values {
	return url.Values{"card_number": {number}, "exp_month": {"12"}, "exp_year": {"2030"}, "cvc": {"123"}}
}

type response struct {
	status int
	header http.Header
	body   string
}

// noRedirects is a browser that shows each answer instead of following redirects.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (e *env) get(u string) response {
	e.t.Helper()
	return e.do(http.NewRequest(http.MethodGet, u, nil))
}

func (e *env) post(u string, form url.Values) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err == nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return e.do(req, err)
}

func (e *env) do(req *http.Request, err error) response {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// eventually waits up to 5s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
