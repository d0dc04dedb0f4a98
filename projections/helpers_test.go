package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/projections"
)

var t0 = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// harness is an embedded event store and, while running, the read models
// beside it with a projector folding into them: serve's arrangement.
type harness struct {
	t     *testing.T
	store *sqlite.Store
	log   *app.Log
	path  string // the read models' database

	rm   *projections.ReadModels
	p    *projections.Projector
	stop func() error // stops the projector and closes rm
}

// newHarness opens a store and starts the read models and their projector.
func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &harness{t: t, store: s, log: app.NewLog(s, func() time.Time { return t0 }), path: filepath.Join(dir, "readmodels.db")}
	h.start()
	t.Cleanup(h.halt)
	return h
}

// start opens the read models with Open and runs a projector on them.
func (h *harness) start() {
	h.t.Helper()
	rm, err := projections.Open(context.Background(), h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	p := projections.NewProjector(rm, h.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	h.rm, h.p = rm, p
	h.stop = func() error {
		cancel()
		return errors.Join(<-done, rm.Close())
	}
}

// runProjector runs p until the stop it returns is called, which fails
// the test if Run failed.
func runProjector(t *testing.T, p *projections.Projector) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// halt stops the projector and closes the read models, if running.
func (h *harness) halt() {
	h.t.Helper()
	if h.stop == nil {
		return
	}
	err := h.stop()
	h.stop, h.rm, h.p = nil, nil, nil
	if err != nil {
		h.t.Errorf("stop projector: %v", err)
	}
}

// readModels halts the harness's projector and opens its read models
// for a test to run projectors on by hand; closed when the test ends.
func (h *harness) readModels() *projections.ReadModels {
	h.t.Helper()
	h.halt()
	rm, err := projections.Open(context.Background(), h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { rm.Close() })
	return rm
}

// append records events, which must all belong to one stream, in one append
// and returns the position of the last.
func (h *harness) append(events ...domain.Event) eventstore.Position {
	h.t.Helper()
	res, err := h.log.Append(context.Background(), events[0].StreamID(), eventstore.Any, events, nil, app.Metadata{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Position
}

// record appends events (one append per stream run) and waits until the
// projector applied them.
func (h *harness) record(events ...domain.Event) eventstore.Position {
	h.t.Helper()
	var pos eventstore.Position
	for len(events) > 0 {
		n := 1
		for n < len(events) && events[n].StreamID() == events[0].StreamID() {
			n++
		}
		pos = h.append(events[:n]...)
		events = events[n:]
	}
	h.waitFor(pos)
	return pos
}

func (h *harness) waitFor(pos eventstore.Position) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.p.WaitFor(ctx, pos); err != nil {
		h.t.Fatalf("wait for position %d (projector at %d): %v", pos, h.p.Position(), err)
	}
}

// head is the log's last position.
func (h *harness) head() eventstore.Position {
	h.t.Helper()
	pos, err := h.store.Head(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return pos
}

// Event builders: the events the domain records, with fixed test values.

const plan, card = domain.PlanID("plan_robot_hours_10"), domain.PaymentMethodID("pm_00000000000000000000000000000001")

func placed(user, key string, amount int64, at time.Time) domain.OrderPlaced {
	id := domain.OrderIDFor(user, key)
	return domain.OrderPlaced{
		OrderRef:        domain.OrderRef{OrderID: id, UserID: user, PlanID: plan, Amount: amount, Currency: "usd"},
		PaymentMethodID: card, IdempotencyKey: key, Fingerprint: "fingerprint", PlacedAt: at,
	}
}

func paid(o domain.OrderPlaced, at time.Time) domain.OrderPaid {
	return domain.OrderPaid{OrderRef: o.OrderRef, ProviderPaymentID: "pi_" + string(o.OrderID), PaidAt: at}
}

func subscriptionFor(o domain.OrderPlaced) domain.SubscriptionRef {
	return domain.SubscriptionRef{SubscriptionID: domain.SubscriptionIDFor(o.OrderID), UserID: o.UserID, PlanID: o.PlanID, OrderID: o.OrderID}
}

func created(o domain.OrderPlaced) domain.SubscriptionCreated {
	return domain.SubscriptionCreated{
		SubscriptionRef: subscriptionFor(o), Interval: "month", IntervalCount: 1,
		Amount: o.Amount, Currency: o.Currency, PaymentMethodID: o.PaymentMethodID, CreatedAt: o.PlacedAt,
	}
}

func attached(user string, n int, at time.Time) domain.CardAttached {
	session := domain.SetupSessionID(fmt.Sprintf("cs_%032x", n))
	return domain.CardAttached{
		UserID: user, PaymentMethodID: domain.PaymentMethodIDFor(session), SessionID: session,
		ProviderPaymentMethodID: fmt.Sprintf("sandbox_pm_%d", n), Brand: "visa", Last4: "4242",
		ExpMonth: 12, ExpYear: 2030, AttachedAt: at,
	}
}

func ptr[T any](v T) *T { return &v }

// dump is every row of every read model table, and the checkpoint, as
// sorted lines: two databases are equal when their dumps are.
func dump(t *testing.T, path string) []string {
	t.Helper()
	db := openRaw(t, path)
	var lines []string
	// The schema too: tables and every index, whatever made them.
	schema, err := db.Query(`SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for schema.Next() {
		var kind, name, sql string
		if err := schema.Scan(&kind, &name, &sql); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "schema "+kind+" "+name+": "+sql)
	}
	if err := errors.Join(schema.Err(), schema.Close()); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"checkpoint", "payment_methods", "orders", "subscriptions"} {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			values := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range values {
				ptrs[i] = &values[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, table+fmt.Sprint(values))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	slices.Sort(lines)
	return lines
}

// openRaw opens the read models' file directly, as an operator's sqlite3
// shell would.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func orderID(o projections.RawOrder) string { return o.ID }

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func sameLines(t *testing.T, got, want []string, what string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s differ:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
