package projections

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/jsonx"
)

// Order is an order as GET /v1/me/wallet/orders shows it.
type Order struct {
	ID              string     `json:"id"`
	UserID          string     `json:"-"`
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

// OrderQuery asks for one page of a user's orders: at most Limit (1..100),
// sorted by SortBy ("created_at", the default when empty, or "amount") with
// ties broken by id, both ascending or both descending (Desc), starting
// right after the order AfterID (a plain order id; the first page when
// empty).
type OrderQuery struct {
	Limit   int
	AfterID string
	SortBy  string
	Desc    bool
	AsOf    time.Time // the list as the ledger stood then (asof.go); now when zero
}

// orderListColumns are what a page of orders reads: the body alone, as
// its id leads it (appendJSON). Each column read of each row is a call
// into SQLite, which takes the connection's mutex; a second column cost a
// quarter of a page's query (BenchmarkOrdersPage).
const orderListColumns = "body"

// RawOrder is an order as a page shows it: its id and its JSON, as stored
// (Order.MarshalJSON's bytes).
type RawOrder struct {
	ID   string
	JSON json.RawMessage
}

// idPrefix is how an order's JSON starts: its id is the first field.
const idPrefix = `{"id":"`

// orderIDOf reads an order's id from its JSON. The id leads an order's
// body and needs no escaping; a body of any other shape is left to
// encoding/json.
func orderIDOf(body []byte) (string, error) {
	if rest, ok := bytes.CutPrefix(body, []byte(idPrefix)); ok {
		if end := bytes.IndexByte(rest, '"'); end >= 0 && bytes.IndexByte(rest[:end], '\\') < 0 {
			return string(rest[:end]), nil
		}
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return "", fmt.Errorf("order body: %w", err)
	}
	return o.ID, nil
}

// Orders returns a page of userID's orders and whether more follow. An
// AfterID that is not one of the user's orders is ErrInvalidCursor; an
// unknown SortBy is an error. The orders come as the read model stores
// them, rendered: a page costs a range of the table and no encoding, and a
// first page read again while the user's orders are unchanged costs
// nothing (firstPages). The orders may be shared with other callers: no
// one may change them.
func (rm *ReadModels) Orders(ctx context.Context, userID string, q OrderQuery) (items []RawOrder, hasMore bool, err error) {
	sortBy, err := orderSortColumn(q.SortBy)
	if err != nil {
		return nil, false, err
	}
	if !q.AsOf.IsZero() {
		return rm.ordersAsOf(ctx, userID, sortBy, q)
	}
	if q.AfterID != "" || rm.pages == nil {
		return rm.ordersPage(ctx, userID, sortBy, q)
	}
	key := pageKey{sortBy: sortBy, desc: q.Desc, limit: clampLimit(q.Limit)}
	if p, ok := rm.pages.get(userID, key); ok {
		return p.items, p.hasMore, nil
	}
	read := rm.pages.generation()
	items, hasMore, err = rm.ordersPage(ctx, userID, sortBy, q)
	if err != nil {
		return nil, false, err
	}
	p := newKeptPage(items, hasMore)
	rm.pages.keep(userID, key, read, p)
	return p.items, p.hasMore, nil
}

// ordersPage reads a page of Orders from the database.
func (rm *ReadModels) ordersPage(ctx context.Context, userID, sortBy string, q OrderQuery) ([]RawOrder, bool, error) {
	// The page's bodies are copied one after another into one buffer, not
	// into a slice each: database/sql converts the driver's text into
	// body's room, reused row after row, and every row's Scan takes the
	// same arguments (a slice made for each call would be garbage).
	bodies := make([]byte, 0, (clampLimit(q.Limit)+1)*384)
	body := make(sql.RawBytes, 0, 1024)
	into := []any{&body}
	return listPage(ctx, rm.queries, listQuery{
		table: "orders", columns: orderListColumns, sortBy: sortBy, desc: q.Desc,
		userID: userID, afterID: q.AfterID, limit: q.Limit,
	}, func(s scanner) (RawOrder, error) {
		var o RawOrder
		if err := s.Scan(into...); err != nil {
			return o, err
		}
		id, err := orderIDOf(body)
		if err != nil {
			return o, err
		}
		o.ID = id
		start := len(bodies)
		bodies = append(bodies, body...)
		o.JSON = bodies[start:len(bodies):len(bodies)]
		return o, nil
	})
}

// orderSortColumn maps a sort field to its column: only indexed ones.
func orderSortColumn(field string) (string, error) {
	switch field {
	case "", "created_at":
		return "created_at", nil
	case "amount":
		return "amount", nil
	}
	return "", fmt.Errorf("list orders: cannot sort by %q (created_at or amount)", field)
}

// Order returns userID's order orderID, or ErrNotFound.
func (rm *ReadModels) Order(ctx context.Context, userID, orderID string) (Order, error) {
	return getRow(ctx, rm.queries, "orders", "user_id, body", userID, orderID, scanOrder)
}

// scanOrder reads an order from its user_id and body columns.
func scanOrder(s scanner) (Order, error) {
	var (
		o    Order
		body []byte
	)
	if err := s.Scan(&o.UserID, &body); err != nil {
		return o, err
	}
	if err := json.Unmarshal(body, (*orderFields)(&o)); err != nil {
		return o, fmt.Errorf("order body: %w", err)
	}
	return o, nil
}

// orderFields is Order without its methods: encoding/json reads it by its
// field tags.
type orderFields Order

// MarshalJSON writes the order as the API shows it, with the fields in
// the order of the struct, as encoding/json would from the tags (but
// without reflection, and without escaping <, > and &).
func (o Order) MarshalJSON() ([]byte, error) {
	return o.appendJSON(make([]byte, 0, 384)), nil
}

func (o Order) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonx.AppendString(b, o.ID)
	b = append(b, `,"plan_id":`...)
	b = jsonx.AppendString(b, o.PlanID)
	b = append(b, `,"status":`...)
	b = jsonx.AppendString(b, o.Status)
	b = append(b, `,"currency":`...)
	b = jsonx.AppendString(b, o.Currency)
	b = append(b, `,"amount":`...)
	b = strconv.AppendInt(b, o.Amount, 10)
	b = append(b, `,"is_refundable":`...)
	b = strconv.AppendBool(b, o.IsRefundable)
	b = append(b, `,"created_at":`...)
	b = jsonx.AppendTime(b, o.CreatedAt)
	b = append(b, `,"payment_method_id":`...)
	b = jsonx.AppendString(b, o.PaymentMethodID)
	b = append(b, `,"subscription_id":`...)
	b = appendStringOrNull(b, o.SubscriptionID)
	b = append(b, `,"failure_code":`...)
	b = appendStringOrNull(b, o.FailureCode)
	b = append(b, `,"refunded_at":`...)
	if o.RefundedAt == nil {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendTime(b, *o.RefundedAt)
	}
	return append(b, '}')
}

func appendStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonx.AppendString(b, *s)
}

// The order read model folds an order's events with the domain's own
// state machine (domain.Order.Apply) and shows the result: the list can
// never tell a different story from the ledger. Each order a batch touches
// is folded in memory and written once, rendered, at the end of the batch
// (see writeTx.flushOrders), or, for a new order the projector's batch
// leaves pending, when a later batch settles it or the transaction commits
// (writeTx.hold). A repeated order.placed keeps the first. An
// outcome for an order never placed changes nothing, but cannot be in the
// log: an order's stream starts with order.placed by construction.

// orderEvent is an event of an order's stream.
type orderEvent interface {
	domain.Event
	Ref() domain.OrderRef
}

// foldOrder folds one order event into the order's row.
func (w *writeTx) foldOrder(e domain.Event) error {
	oe, ok := e.(orderEvent)
	if !ok {
		return fmt.Errorf("%T is not an order event", e)
	}
	_, placing := e.(domain.OrderPlaced)
	ref := oe.Ref()
	// The first event of the order's stream: no event, and so no row, of
	// the order can come before it.
	first := placing && w.revision == 0 && w.stream == ref.StreamID()
	if placing && !first && w.fresh {
		if w.placedElsewhere == nil {
			w.placedElsewhere = make(map[string]struct{})
		}
		w.placedElsewhere[string(ref.OrderID)] = struct{}{}
	}
	c, err := w.order(ref, placing, first)
	if err != nil {
		return err
	}
	c.events = append(c.events, timed{e, w.at})
	c.apply(e, w.at)
	return nil
}

// timed is an event folded and when it was recorded.
type timed struct {
	e  domain.Event
	at int64
}

// apply folds e, recorded at, into the change's row: the domain's state
// machine, but a repeated order.placed keeps the first.
func (c *orderChange) apply(e domain.Event, at int64) {
	_, placing := e.(domain.OrderPlaced)
	if placing == (c.o.ID != "") {
		return
	}
	if placing {
		c.placedAt = at
	}
	d := c.o.domain()
	d.Apply(e)
	c.o, c.dirty, c.changedAt = orderView(&d), true, at
}

// domain is the domain's order as far as the row shows it: enough for
// Apply, which decides on the status alone.
func (o *Order) domain() domain.Order {
	d := domain.Order{
		ID: domain.OrderID(o.ID), UserID: o.UserID, PlanID: domain.PlanID(o.PlanID),
		Money:           domain.Money{Amount: o.Amount, Currency: domain.Currency(o.Currency)},
		PaymentMethodID: domain.PaymentMethodID(o.PaymentMethodID),
		Status:          domain.OrderStatus(o.Status), CreatedAt: o.CreatedAt,
	}
	if o.SubscriptionID != nil {
		d.SubscriptionID = domain.SubscriptionID(*o.SubscriptionID)
	}
	if o.FailureCode != nil {
		d.FailureCode = *o.FailureCode
	}
	if o.RefundedAt != nil {
		d.RefundedAt = *o.RefundedAt
	}
	return d
}

// orderView is how the API shows the domain's order d.
func orderView(d *domain.Order) Order {
	o := Order{
		ID: string(d.ID), UserID: d.UserID, PlanID: string(d.PlanID), Status: string(d.Status),
		Currency: string(d.Money.Currency), Amount: d.Money.Amount, IsRefundable: d.IsRefundable(),
		CreatedAt: fromNanos(d.CreatedAt.UnixNano()), PaymentMethodID: string(d.PaymentMethodID),
	}
	if d.SubscriptionID != "" {
		s := string(d.SubscriptionID)
		o.SubscriptionID = &s
	}
	if d.FailureCode != "" {
		o.FailureCode = &d.FailureCode
	}
	if !d.RefundedAt.IsZero() {
		t := fromNanos(d.RefundedAt.UnixNano())
		o.RefundedAt = &t
	}
	return o
}

// orderChange is an order a batch folds: its row as the batch leaves it.
type orderChange struct {
	o      Order // ID empty while the order is not placed
	stored bool  // the read model has a row for it
	dirty  bool  // the batch changed it
	// unread: first met placed and not known, so its row was not looked
	// for (an order's stream starts with its placement, so none is
	// expected); should one be there after all, events, what the batch
	// folded, are folded again onto it. Not for a placement that is its
	// stream's first event: the read model cannot have a row for it.
	unread bool
	events []timed
	// When the events that placed it and that last changed it were
	// recorded: as-of reads (asof.go) tell by them which rows they can
	// show as they are.
	placedAt, changedAt int64
	// unwritten: held by an earlier batch of the transaction
	// (writeTx.held), its row still to be written (dirty is this batch's
	// changes, what the watches hear of).
	unwritten bool
}

// order returns the batch's change of order id: the one an earlier batch
// of the transaction held, or one starting from the row as last committed
// (see start).
func (w *writeTx) order(ref domain.OrderRef, placing, first bool) (*orderChange, error) {
	id := string(ref.OrderID)
	if c, ok := w.orders[id]; ok {
		return c, nil
	}
	c, ok := w.held[id]
	if ok {
		delete(w.held, id)
		c.unwritten, c.dirty = true, false
	} else {
		var err error
		if c, err = w.start(ref, placing, first); err != nil {
			return nil, err
		}
	}
	if w.orders == nil {
		w.orders = make(map[string]*orderChange)
	}
	w.orders[id] = c
	w.touched = append(w.touched, id)
	return c, nil
}

// start returns a change of order id starting from the row as last
// committed: from the folder's cache of recent rows, or read, except for a
// placement (see orderChange.unread).
func (w *writeTx) start(ref domain.OrderRef, placing, first bool) (*orderChange, error) {
	id := string(ref.OrderID)
	c := &orderChange{}
	if o, ok := w.f.recent.Get(id); ok {
		c.o, c.stored = o, true
	} else if placing {
		c.unread = !first
	} else if err := w.findOrder(ref, c); err != nil {
		return nil, err
	}
	return c, nil
}

// findOrder starts c from the row of the order ref, if it has one, as
// readOrder does. A long fold without the id index yet (writeTx.lookups)
// finds it by the table's key instead, when the placement that started
// the order's stream, which the fold has passed, gives its key and no
// other event placed it: a refund, say, of an order placed long before
// then costs a read of the log, not the id index kept up for every order.
// Once such reads have taken logReadBudget, as they would from a store
// across a network after a few thousand, the fold creates the index and
// goes by id.
func (w *writeTx) findOrder(ref domain.OrderRef, c *orderChange) error {
	id := string(ref.OrderID)
	_, elsewhere := w.placedElsewhere[id]
	if len(w.lookups) == 0 || w.log == nil || w.logTime >= logReadBudget || elsewhere {
		return w.readOrder(id, c)
	}
	start := time.Now()
	placed, err := w.placement(ref)
	w.logTime += time.Since(start)
	if err != nil {
		return err
	}
	if placed == nil {
		return w.readOrder(id, c)
	}
	found, err := w.loadOrder(c, id, `SELECT user_id, body FROM orders WHERE user_id = ? AND created_at = ? AND id = ?`,
		placed.UserID, nanos(placed.PlacedAt), id)
	if err != nil || found {
		return err
	}
	return w.readOrder(id, c) // not at that key after all
}

// logReadBudget bounds the time a long fold spends reading placements
// (findOrder): on the embedded store a read takes tens of microseconds,
// and keeping the id index up costs a few seconds a million orders.
const logReadBudget = time.Second

// placement returns the event that started the stream of the order ref,
// if it placed that order and the fold has passed it; nil otherwise, also
// when the log cannot say (a stream deleted, an error reading it): the id
// index finds the row all the same. Only the fold's end is an error.
func (w *writeTx) placement(ref domain.OrderRef) (*domain.OrderPlaced, error) {
	recs, err := w.log.ReadStream(w.logCtx, ref.StreamID(), eventstore.Forwards, 0, 1)
	if err != nil {
		return nil, w.logCtx.Err()
	}
	if len(recs) == 0 || recs[0].Type != domain.EventOrderPlaced || recs[0].Position > w.checkpoint {
		return nil, nil
	}
	e, err := domain.Decode(recs[0].Type, recs[0].Data)
	if err != nil {
		return nil, nil
	}
	placed, ok := e.(domain.OrderPlaced)
	if !ok || placed.OrderID != ref.OrderID {
		return nil, nil
	}
	return &placed, nil
}

// readOrder starts c from the order's row, if it has one.
func (w *writeTx) readOrder(id string, c *orderChange) error {
	if err := w.indexLookups(); err != nil {
		return err
	}
	_, err := w.loadOrder(c, id, `SELECT user_id, body FROM orders WHERE id = ?`, id)
	return err
}

// loadOrder starts c from the row of order id that query finds, if it
// finds one.
func (w *writeTx) loadOrder(c *orderChange, id, query string, args ...any) (found bool, err error) {
	o, err := scanOrder(w.tx.QueryRowContext(w.ctx, query, args...))
	switch {
	case err == nil:
		c.o, c.stored = o, true
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	}
	return false, fmt.Errorf("read order %s: %w", id, err)
}

// flushOrders writes every order the batch changed, once, in the order
// the batch first touched them, but for those it holds (writeTx.hold).
func (w *writeTx) flushOrders() error {
	if w.hold {
		if err := w.holdPending(); err != nil {
			return err
		}
	}
	var body []byte
	var err error
	for _, id := range w.touched {
		c := w.orders[id]
		switch {
		case !(c.dirty || c.unwritten) || w.holds(id):
		case w.isNew(c):
			if err := w.insertLater(c); err != nil {
				return err
			}
		default:
			if body, err = w.writeOrder(c, body); err != nil {
				return err
			}
		}
	}
	return w.insertNew()
}

// isNew says whether c is an order a fresh fold (writeTx.fresh) knows to
// have no row: its placement started its stream (orderChange.unread), and
// no other event placed it.
func (w *writeTx) isNew(c *orderChange) bool {
	if !w.fresh || c.stored || c.unread {
		return false
	}
	_, elsewhere := w.placedElsewhere[c.o.ID]
	return !elsewhere
}

// insertLater queues c, a new order (isNew), for insertNew: written a
// few at once, they take one statement instead of one each (an INSERT of
// one row is about a fifth statement overhead in database/sql, the driver
// and SQLite's VM). It writes the queue once it is full. Only a fresh
// fold: elsewhere a statement of several rows keeps a statement journal
// (a copy of every page it changes, to undo it should a row fail), and
// the projector's batches are small.
func (w *writeTx) insertLater(c *orderChange) error {
	w.inserts = append(w.inserts, c)
	if len(w.inserts) < insertRows {
		return nil
	}
	return w.insertNew()
}

// insertRows is how many new orders one INSERT writes at most (1 <<
// insertRowsLog): 8 parameters a row, far below SQLite's 32,766 a
// statement.
const (
	insertRowsLog = 6
	insertRows    = 1 << insertRowsLog
)

// insertNew writes the new orders insertLater queued, in statements of
// insertRows, then of halves, down to one row: seven statements to
// prepare, at most. No ON CONFLICT: a row already there for one of them
// would be a fold gone wrong, and fails it. Should a statement fail, the
// transaction is thrown away (a fresh fold's database with it), queue and
// all.
func (w *writeTx) insertNew() error {
	q := w.inserts
	for size := insertRowsLog; len(q) > 0; size-- {
		for rows := 1 << size; len(q) >= rows; q = q[rows:] {
			if err := w.insertOrders(insertOrdersSQL[size], q[:rows]); err != nil {
				return err
			}
		}
	}
	clear(w.inserts)
	w.inserts = w.inserts[:0]
	return nil
}

// insertOrders writes the rows of cs, new orders, with query, the INSERT
// of as many rows.
func (w *writeTx) insertOrders(query string, cs []*orderChange) error {
	w.bodies = w.bodies[:0]
	ends := make([]int, len(cs))
	for i, c := range cs {
		w.bodies = c.o.appendJSON(w.bodies)
		ends[i] = len(w.bodies)
	}
	args := make([]any, 0, 8*len(cs))
	start := 0
	for i, c := range cs {
		w.wrote(c.o.UserID)
		args = orderArgs(args, c, w.bodies[start:ends[i]:ends[i]])
		start = ends[i]
	}
	if _, err := w.exec(query, args...); err != nil {
		return fmt.Errorf("write %d new orders, from %s: %w", len(cs), cs[0].o.ID, err)
	}
	for _, c := range cs {
		c.stored = true
	}
	return nil
}

// insertOrdersSQL are the INSERTs of new orders, of 1 << i rows each.
var insertOrdersSQL = func() (qs [insertRowsLog + 1]string) {
	for i := range qs {
		qs[i] = insertOrder + strings.Repeat(orderRow+", ", 1<<i-1) + orderRow
	}
	return qs
}()

// insertOrder is the INSERT of order rows, each an orderRow whose values
// orderArgs gives.
const (
	insertOrder = "INSERT INTO orders (id, user_id, created_at, amount, status, body, placed_rec, changed_rec) VALUES "
	orderRow    = "(?, ?, ?, ?, ?, ?, ?, ?)"
)

// orderArgs appends to args the values of c's row, its body rendered.
func orderArgs(args []any, c *orderChange, body []byte) []any {
	o := &c.o
	return append(args, o.ID, o.UserID, nanos(o.CreatedAt), o.Amount, o.Status, body, c.placedAt, c.changedAt)
}

// writeOrder writes the row of c, rendered into body's space (returned
// for the next).
func (w *writeTx) writeOrder(c *orderChange, body []byte) ([]byte, error) {
	c.unwritten = false
	o := &c.o
	body = o.appendJSON(body[:0])
	if !c.stored {
		if err := w.indexLookups(); err != nil { // the conflict's
			return body, err
		}
		w.wrote(o.UserID)
		res, err := w.exec(insertOrder+orderRow+" ON CONFLICT (id) DO NOTHING", orderArgs(nil, c, body)...)
		if err != nil {
			return body, fmt.Errorf("write order %s: %w", o.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return body, fmt.Errorf("write order %s: %w", o.ID, err)
		}
		if n == 1 {
			c.stored = true
			return body, nil
		}
		// Placed again: fold the batch's events onto the first row.
		redo := &orderChange{}
		if err := w.readOrder(o.ID, redo); err != nil {
			return body, err
		}
		for _, e := range c.events {
			redo.apply(e.e, e.at)
		}
		*c = *redo
		if !c.dirty {
			return body, nil
		}
		body = o.appendJSON(body[:0])
	}
	w.wrote(o.UserID)
	res, err := w.exec(updateOrderByKey, o.Status, body, c.changedAt, o.UserID, nanos(o.CreatedAt), o.ID)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n == 0 {
		// Not at the key the order's body gives: a row changed by hand,
		// or damaged. By id, as the fold always could.
		if err = w.indexLookups(); err == nil {
			_, err = w.exec(`UPDATE orders SET status = ?, body = ?, changed_rec = ? WHERE id = ?`, o.Status, body, c.changedAt, o.ID)
		}
	}
	if err != nil {
		return body, fmt.Errorf("write order %s: %w", o.ID, err)
	}
	return body, nil
}

// updateOrderByKey writes an order's row found by the table's key, which
// an order's later events never change: one B-tree to search. NOT
// INDEXED, or SQLite's planner takes the id index (orders_by_id) first,
// then the table.
const updateOrderByKey = `UPDATE orders NOT INDEXED SET status = ?, body = ?, changed_rec = ? WHERE user_id = ? AND created_at = ? AND id = ?`

// holdPending holds, instead of writing, the new orders the batch leaves
// pending (see writeTx.hold). A placement the folder did not know
// (orderChange.unread) is held only once the read model is known to have
// no row for it: should it have one (an order placed again), the batch
// writes it now and folds its events onto that row, before the watches
// hear of it. One query looks for all of the batch's.
func (w *writeTx) holdPending() error {
	holdable := func(c *orderChange) bool {
		return (c.dirty || c.unwritten) && !c.stored && c.o.Status == string(domain.OrderStatusPending)
	}
	var unread []string
	for _, id := range w.touched {
		if c := w.orders[id]; holdable(c) && c.unread {
			unread = append(unread, id)
		}
	}
	found, err := w.storedOrders(unread)
	if err != nil {
		return err
	}
	for _, id := range w.touched {
		c := w.orders[id]
		if !holdable(c) {
			continue
		}
		if _, ok := found[id]; ok {
			continue
		}
		c.unread = false
		if w.held == nil {
			w.held = make(map[string]*orderChange)
		}
		w.held[id] = c
		w.heldIDs = append(w.heldIDs, id)
	}
	return nil
}

// holds reports whether the transaction holds order id, unwritten.
func (w *writeTx) holds(id string) bool {
	_, ok := w.held[id]
	return ok
}

// storedOrders returns which of ids the read model has a row for.
func (w *writeTx) storedOrders(ids []string) (map[string]struct{}, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if err := w.indexLookups(); err != nil {
		return nil, err
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := w.tx.QueryContext(w.ctx, `SELECT id FROM orders WHERE id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, fmt.Errorf("look for placed orders: %w", err)
	}
	defer rows.Close()
	found := make(map[string]struct{})
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("look for placed orders: %w", err)
		}
		found[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look for placed orders: %w", err)
	}
	return found, nil
}

// writeHeld writes the orders the transaction still holds, once each, in
// the order they were first held.
func (w *writeTx) writeHeld() error {
	var body []byte
	var err error
	for _, id := range w.heldIDs {
		c, ok := w.held[id]
		if !ok {
			continue // taken up again by a later batch, or written already
		}
		delete(w.held, id)
		if body, err = w.writeOrder(c, body); err != nil {
			return err
		}
		w.wroteHeld = append(w.wroteHeld, c.o)
	}
	w.heldIDs = w.heldIDs[:0]
	return nil
}

// wrote notes that the transaction writes an order of user's, for the
// kept pages (firstPages) to drop at its commit.
func (w *writeTx) wrote(user string) {
	if w.f.pages == nil {
		return
	}
	if w.users == nil {
		w.users = make(map[string]struct{})
	}
	w.users[user] = struct{}{}
}

// written tells the folder's cache the rows the batch wrote and returns
// them (see settle).
func (w *writeTx) written() []Order {
	changed := make([]Order, 0, len(w.touched))
	w.settle(func(o Order) { changed = append(changed, o) })
	return changed
}

// settle tells the folder's cache the rows the batch wrote, calling each,
// if not nil, with every one, and starts the transaction's next batch
// afresh. Call it once the batch is committed, or once it is folded where
// the transaction goes on with the next batches, which read its rows: should
// it fail, a long fold throws the folder away with the database, and the
// projector empties the cache.
func (w *writeTx) settle(each func(Order)) {
	for _, id := range w.touched {
		if c := w.orders[id]; c.dirty {
			if !w.holds(id) { // a held order is cached once written
				w.f.recent.Add(id, c.o)
			}
			if each != nil {
				each(c.o)
			}
		}
	}
	clear(w.orders)
	w.touched = w.touched[:0]
}

// UnsettledOrder is an order still pending or waiting for a refund.
type UnsettledOrder struct {
	ID        string
	CreatedAt time.Time
}

// Unsettled returns up to limit orders, oldest first, that are still
// pending or refund_pending, placed after after and before before: the
// reconciler's sweep pages through them and asks the ledger again.
func (rm *ReadModels) Unsettled(ctx context.Context, after, before time.Time, limit int) ([]UnsettledOrder, error) {
	rows, err := rm.readers.QueryContext(ctx, `SELECT id, created_at FROM orders INDEXED BY orders_unsettled
		WHERE status IN ('pending', 'refund_pending') AND created_at > ? AND created_at < ? ORDER BY created_at LIMIT ?`,
		after.UnixNano(), before.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("unsettled orders: %w", err)
	}
	defer rows.Close()
	var out []UnsettledOrder
	for rows.Next() {
		var o UnsettledOrder
		var created int64
		if err := rows.Scan(&o.ID, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromNanos(created)
		out = append(out, o)
	}
	return out, rows.Err()
}
