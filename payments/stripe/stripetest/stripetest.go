// Package stripetest runs Stripe's own mock server (stripe-mock, pinned as
// a go tool in go.mod) for tests, and a recording, fault-injecting proxy in
// front of it. stripe-mock checks the shape of every request against
// Stripe's OpenAPI spec but is stateless; flow behaviour is tested with
// signed webhooks and the proxy's faults.
package stripetest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var listening = regexp.MustCompile(`Listening for HTTP at address: (127\.0\.0\.1:\d+)`)

// StartMock starts stripe-mock on a free loopback port and returns its base
// URL and the function that stops it.
func StartMock() (string, func(), error) {
	cmd := exec.Command("go", "tool", "stripe-mock", "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go tool runs the mock as a child: stop them together
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, stop, nil
	case <-time.After(3 * time.Minute): // the first run compiles it
		stop()
		return "", nil, fmt.Errorf("stripe-mock did not start")
	}
}

// Mock starts stripe-mock for one test.
func Mock(t testing.TB) string {
	t.Helper()
	url, stop, err := StartMock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// Request is one request the proxy saw.
type Request struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
}

// Fault is what the proxy does to a request instead of forwarding it;
// nil forwards it.
type Fault func(w http.ResponseWriter, r *http.Request) (handled bool)

// Proxy forwards to stripe-mock, records every request, and lets a test
// inject faults.
type Proxy struct {
	URL string

	mu       sync.Mutex
	requests []Request
	fault    Fault
}

// NewProxy starts a proxy in front of target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		form, _ := url.ParseQuery(string(body))
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		p.mu.Lock()
		p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form})
		fault := p.fault
		p.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		r.ContentLength = int64(len(body))
		if fault != nil && fault(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// SetFault installs (or, with nil, removes) a fault.
func (p *Proxy) SetFault(f Fault) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// Requests returns what the proxy saw so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// StripeError answers like Stripe does for an error.
func StripeError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}
