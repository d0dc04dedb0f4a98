package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// errStopped is a request not sent because its phase stopped issuing.
var errStopped = errors.New("phase stopped")

// api is the service as every virtual user reaches it: one connection pool
// sized for all of them, so the tool measures requests, not TCP handshakes.
type api struct {
	base   string
	client *http.Client
}

func newAPI(cfg config) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = cfg.Users + 16
	return &api{
		base: strings.TrimRight(cfg.URL, "/"),
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// The sandbox page answers 303 to a return URL: that is its answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// request is one call of the API. path is relative to the base URL unless
// it is absolute (the hosted card page).
type request struct {
	method string
	path   string
	json   any        // a JSON body
	form   url.Values // a form body
	// expect lists the non-2xx statuses the flow treats as normal answers
	// (a refund of an order no longer refundable); others are errors.
	expect []int
}

// answer is a response with its body read.
type answer struct {
	status int
	body   []byte
	start  time.Time // when the request was sent
}

func (a answer) decode(into any) error {
	if err := json.Unmarshal(a.body, into); err != nil {
		return fmt.Errorf("answer %d is not the JSON expected: %w", a.status, err)
	}
	return nil
}

// call sends r as u, records it under its route pattern and returns the
// answer. The error is a transport error, an unexpected status, or
// errStopped; requests aborted by ctx (ctrl-C) are not recorded.
func (u *user) call(ctx context.Context, r request) (answer, error) {
	if u.halt.Err() != nil {
		return answer{}, errStopped
	}
	req, err := u.newRequest(ctx, r)
	if err != nil {
		return answer{}, err
	}
	obs := observation{route: routeName(r.method, req.URL.String()), start: time.Now()}
	a, err := u.send(req)
	obs.took = time.Since(obs.start)
	switch {
	case err != nil && ctx.Err() != nil:
		return a, err
	case err != nil:
		obs.err = fmt.Errorf("%s: %w", obs.route, err)
		obs.timedOut = isTimeout(err)
	case !expected(a.status, r.expect):
		obs.err = fmt.Errorf("%s: %d %s", obs.route, a.status, snippet(a.body))
	}
	a.start, obs.status = obs.start, a.status
	u.rec.observe(obs)
	return a, obs.err
}

func (u *user) newRequest(ctx context.Context, r request) (*http.Request, error) {
	target := r.path
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = u.api.base + target
	}
	var body io.Reader
	contentType := ""
	switch {
	case r.json != nil:
		raw, err := json.Marshal(r.json)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(raw), "application/json"
	case r.form != nil:
		body, contentType = strings.NewReader(r.form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if strings.HasPrefix(target, u.api.base+"/v1/me/") {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	return req, nil
}

// send does the round trip and reads the whole body, which is part of the
// latency a client sees.
func (u *user) send(req *http.Request) (answer, error) {
	resp, err := u.api.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: body}, err
}

func expected(status int, extra []int) bool {
	if status >= 200 && status < 400 {
		return true
	}
	for _, s := range extra {
		if s == status {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// snippet is the start of a body, for an error sample.
func snippet(body []byte) string {
	const max = 160
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// idParams names the path segments that are ids, by their type prefix
// (api.md: pm_, ord_, sub_, cs_, re_).
var idParams = []struct{ prefix, name string }{
	{"ord_", "{order_id}"},
	{"pm_", "{payment_method_id}"},
	{"sub_", "{subscription_id}"},
	{"cs_", "{session_id}"},
	{"re_", "{refund_id}"},
}

// routeName is the route pattern of a request: the method and the path
// with its ids replaced by what they identify, without host or query, so
// that every request to one endpoint shares one histogram.
func routeName(method, rawURL string) string {
	path := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		path = u.Path
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		for _, p := range idParams {
			if len(s) > len(p.prefix) && strings.HasPrefix(s, p.prefix) {
				segs[i] = p.name
				break
			}
		}
	}
	return method + " " + strings.Join(segs, "/")
}
