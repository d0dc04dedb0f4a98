package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/robotlabor/billing/auth"
)

// The flow's fixed inputs: Stripe's always-succeeding test card and the
// default catalog's plans (api.md).
const (
	testCard   = "4242424242424242"
	fixedPlan  = "plan_robot_hours_10"
	customPlan = "plan_robot_hours_custom" // amounts 500..500000
	pageSize   = 20
	ordersPath = "/v1/me/wallet/orders"
	monthly    = "plan_fleet_monthly"
)

var errNoCard = errors.New("the user has no saved card")

// user is one virtual user: a distinct user id, its token and its card.
type user struct {
	id    string
	token string
	api   *api
	cfg   *config
	card  string // the saved card's id; "" until saved
	// periodEnd is the end of the period of the subscription subscribe
	// bought (renewals scenario).
	periodEnd time.Time

	// Set by each phase; the user's goroutine owns them while it runs.
	rec  *recorder
	halt context.Context // once done, the user sends no new request
}

// newUsers makes the virtual users bench-<run id>-<n>, with tokens signed
// as `billing token` signs them.
func newUsers(cfg config, a *api) ([]*user, error) {
	key, err := signingKey(cfg)
	if err != nil {
		return nil, err
	}
	keys, err := auth.New(key, nil)
	if err != nil {
		return nil, err
	}
	ttl := cfg.Warmup + cfg.Duration + time.Hour // the fill and setup phases fit in the hour
	users := make([]*user, cfg.Users)
	for i := range users {
		id := fmt.Sprintf("bench-%s-%d", cfg.RunID, i+1)
		tok, err := keys.Issue(id, ttl)
		if err != nil {
			return nil, err
		}
		users[i] = &user{id: id, token: tok, api: a, cfg: &cfg}
	}
	return users, nil
}

// signingKey is the service's key: the secret, or the jwt.key of its data
// dir, which must exist: a key created here would sign tokens that the
// service refuses.
func signingKey(cfg config) ([]byte, error) {
	if cfg.JWTSecret == "" {
		path := filepath.Join(cfg.DataDir, "jwt.key")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no signing key (start the service on this data dir, or pass -jwt-secret): %w", err)
		}
	}
	return auth.LoadOrCreateKey(cfg.JWTSecret, cfg.DataDir)
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// saveCard saves the test card through the hosted sandbox page, as a
// browser would, and keeps its id.
func (u *user) saveCard(ctx context.Context) error {
	a, err := u.call(ctx, request{method: http.MethodPost, path: "/v1/me/payment-methods"})
	if err != nil {
		return err
	}
	var session struct {
		URL string `json:"url"`
	}
	if err := a.decode(&session); err != nil {
		return err
	}
	form := url.Values{"card_number": {testCard}, "exp_month": {"12"}, "exp_year": {"2034"}, "cvc": {"123"}}
	if _, err := u.call(ctx, request{method: http.MethodPost, path: session.URL, form: form}); err != nil {
		return err
	}
	return u.findCard(ctx)
}

// ensureCard keeps the card a previous run saved, or saves one.
func (u *user) ensureCard(ctx context.Context) error {
	err := u.findCard(ctx)
	if errors.Is(err, errNoCard) {
		return u.saveCard(ctx)
	}
	return err
}

// findCard keeps the id of the user's newest card, or answers errNoCard.
func (u *user) findCard(ctx context.Context) error {
	a, err := u.call(ctx, request{method: http.MethodGet, path: "/v1/me/payment-methods?limit=1"})
	if err != nil {
		return err
	}
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := a.decode(&page); err != nil {
		return err
	}
	if len(page.Data) == 0 {
		return errNoCard
	}
	u.card = page.Data[0].ID
	return nil
}

// order is what the flow reads of an order.
type order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// placeOrder places the user's n-th order with a fresh idempotency key and
// counts its outcome (paid, failed, or pending when the wait ran out).
func (u *user) placeOrder(ctx context.Context, n int) (order, error) {
	body := map[string]any{
		"payment_method_id": u.card,
		"plan_id":           fixedPlan,
		"idempotency_key":   "bench_" + u.id + "_" + randomID() + randomID(),
	}
	if every(u.cfg.CustomEvery, n) {
		body["plan_id"], body["amount"] = customPlan, 500+int64(n%100)*100
	}
	a, err := u.call(ctx, request{method: http.MethodPost, path: ordersPath, json: body})
	if err != nil {
		return order{}, err
	}
	var o order
	if err := a.decode(&o); err != nil {
		return order{}, err
	}
	u.rec.count("order "+o.Status, a.start)
	return o, nil
}

// listOrders gets the user's first page of orders and checks that it
// shows want, the order just placed (read-your-writes).
func (u *user) listOrders(ctx context.Context, want string) ([]order, error) {
	a, err := u.call(ctx, request{method: http.MethodGet, path: ordersPath + "?limit=20"})
	if err != nil {
		return nil, err
	}
	var page struct {
		Data []order `json:"data"`
	}
	if err := a.decode(&page); err != nil {
		return nil, err
	}
	if want != "" && !slices.ContainsFunc(page.Data, func(o order) bool { return o.ID == want }) {
		u.rec.count("read-your-writes miss", a.start)
	}
	return page.Data, nil
}

// refund refunds an order; 409 (no longer refundable) is a normal answer.
func (u *user) refund(ctx context.Context, id string) {
	a, err := u.call(ctx, request{
		method: http.MethodPost, path: ordersPath + "/" + url.PathEscape(id) + "/refund",
		expect: []int{http.StatusConflict},
	})
	if err != nil {
		return
	}
	var o order
	if a.status == http.StatusConflict || a.decode(&o) != nil {
		u.rec.count(fmt.Sprintf("refund answered %d", a.status), a.start)
		return
	}
	u.rec.count("refund "+o.Status, a.start)
}

// orderLoop is the orders scenario's load: order, list every -list-every
// orders, refund every -refund-every paid order; until the phase halts or
// the user placed -orders.
func (u *user) orderLoop(ctx context.Context) error {
	paid := 0
	for n := 1; u.cfg.Orders == 0 || n <= u.cfg.Orders; n++ {
		o, err := u.placeOrder(ctx, n)
		if stopped(ctx, err) {
			return nil
		}
		if err != nil {
			backOff(ctx)
			continue
		}
		if o.Status == "paid" {
			paid++
			if every(u.cfg.RefundEvery, paid) {
				u.refund(ctx, o.ID)
			}
		}
		if every(u.cfg.ListEvery, n) {
			_, _ = u.listOrders(ctx, o.ID)
		}
	}
	return nil
}

// fillPage places orders until the user has a full page of them.
func (u *user) fillPage(ctx context.Context) error {
	have, err := u.listOrders(ctx, "")
	if err != nil {
		return err
	}
	for n := len(have) + 1; n <= pageSize; n++ {
		if _, err := u.placeOrder(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// pageLoop is the list scenario's load: the first page of orders, again
// and again, until the phase halts.
func (u *user) pageLoop(ctx context.Context) error {
	for {
		page, err := u.listOrders(ctx, "")
		switch {
		case stopped(ctx, err):
			return nil
		case err != nil:
			backOff(ctx)
		case len(page) < pageSize:
			u.rec.count("short page", time.Now())
		}
	}
}

// stopped reports whether the phase ended or the run was interrupted.
func stopped(ctx context.Context, err error) bool {
	return errors.Is(err, errStopped) || ctx.Err() != nil
}

// backOff keeps a failing user from spinning: a refused connection fails
// in microseconds.
func backOff(ctx context.Context) {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// every reports whether n is a multiple of k (never when k is 0).
func every(k, n int) bool { return k > 0 && n%k == 0 }

// subscribe buys the monthly plan and keeps its period's end.
func (u *user) subscribe(ctx context.Context) error {
	body := map[string]any{"payment_method_id": u.card, "plan_id": monthly, "idempotency_key": "bench_sub_" + u.id + "_" + randomID()}
	a, err := u.call(ctx, request{method: http.MethodPost, path: ordersPath, json: body})
	if err != nil {
		return err
	}
	var o struct {
		Status         string `json:"status"`
		SubscriptionID string `json:"subscription_id"`
	}
	if err := a.decode(&o); err != nil {
		return err
	}
	if o.Status != "paid" {
		return fmt.Errorf("the subscription's first order is %s", o.Status)
	}
	a, err = u.call(ctx, request{method: http.MethodGet, path: "/v1/me/wallet/subscriptions/" + o.SubscriptionID})
	if err != nil {
		return err
	}
	var sub struct {
		CurrentPeriodEnd time.Time `json:"current_period_end"`
	}
	if err := a.decode(&sub); err != nil {
		return err
	}
	u.periodEnd = sub.CurrentPeriodEnd
	return nil
}

// advanceAMonth advances the user's test clock past its subscription's
// period end; the answer comes once the renewal is recorded (a 202 means
// it was still running, counted apart).
func (u *user) advanceAMonth(ctx context.Context) error {
	to := u.periodEnd.Add(time.Hour).Format(time.RFC3339Nano)
	a, err := u.call(ctx, request{method: http.MethodPost, path: "/v1/me/test_clock/advance", json: map[string]any{"to": to}})
	if err != nil {
		return err
	}
	if a.status == http.StatusAccepted {
		// Still running after the service's bounded wait: done once the
		// clock says ready.
		u.rec.count("advance answered 202", a.start)
		for {
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return err
			}
			a, err := u.call(ctx, request{method: http.MethodGet, path: "/v1/me/test_clock"})
			if err != nil {
				return err
			}
			var clock struct {
				Status string `json:"status"`
			}
			if err := a.decode(&clock); err != nil {
				return err
			}
			if clock.Status == "ready" {
				break
			}
		}
	}
	u.rec.count("renewed", time.Now())
	return nil
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
