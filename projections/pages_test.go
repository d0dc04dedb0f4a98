package projections

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// ids are the ids of a page's orders.
func ids(page []RawOrder) []string {
	out := make([]string, len(page))
	for i, o := range page {
		out[i] = o.ID
	}
	return out
}

// foldOrders folds n more orders of user, placed and paid, after *pos.
func foldOrders(t *testing.T, rm *ReadModels, pos *eventstore.Position, user string, from, n int) {
	t.Helper()
	var recs []eventstore.RecordedEvent
	for i := from; i < from+n; i++ {
		recs = appendPlacedAndPaid(t, recs, pos, user, i)
	}
	if err := rm.folds.applyBatch(context.Background(), decode(recs)); err != nil {
		t.Fatal(err)
	}
}

// TestAFirstPageReadAgainShowsEveryCommit: a user's first page, read again
// and again, shows each commit that changed the user's orders, in every
// sort and size, and the same orders as the database while nothing did.
func TestAFirstPageReadAgainShowsEveryCommit(t *testing.T) {
	ctx := context.Background()
	rm := openTest(t)
	var pos eventstore.Position
	foldOrders(t, rm, &pos, "user-1", 0, 3)
	foldOrders(t, rm, &pos, "user-2", 0, 1)
	queries := []OrderQuery{
		{Limit: 2, SortBy: "created_at", Desc: true},
		{Limit: 20, SortBy: "created_at", Desc: true},
		{Limit: 20, SortBy: "amount"},
	}
	check := func(when string) {
		t.Helper()
		for _, q := range queries {
			for range 2 { // read, then read again
				got, more, err := rm.Orders(ctx, "user-1", q)
				if err != nil {
					t.Fatal(err)
				}
				want, wantMore, err := rm.ordersPage(ctx, "user-1", q.SortBy, q)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), ids(want)) || more != wantMore {
					t.Fatalf("%s, %+v: page %v (more %v), the database has %v (more %v)", when, q, ids(got), more, ids(want), wantMore)
				}
			}
		}
	}
	check("at first")
	foldOrders(t, rm, &pos, "user-2", 1, 1)
	check("after another user's order")
	foldOrders(t, rm, &pos, "user-1", 3, 1)
	check("after an order of the user's")
	newest, _, err := rm.Orders(ctx, "user-1", queries[0])
	if err != nil || newest[0].ID != string(domain.OrderIDFor("user-1", "3")) {
		t.Fatalf("newest order %v, %v; want the one just folded", ids(newest), err)
	}
}

// TestAPageReadAcrossACommitIsNotKept: a page whose query began before a
// commit that changed its user's orders is not kept, whether the cache
// held the user then or not; one read with no commit since is.
func TestAPageReadAcrossACommitIsNotKept(t *testing.T) {
	c := newFirstPages()
	key := pageKey{sortBy: "created_at", desc: true, limit: 20}
	page := keptPage{items: []RawOrder{{ID: "ord_1", JSON: []byte(`{"id":"ord_1"}`)}}}
	read := c.generation()
	c.changed(map[string]struct{}{"held": {}})
	c.keep("held", key, read, page) // not held when the commit came
	if _, ok := c.get("held", key); ok {
		t.Fatal("kept a page read before a commit, its user not held then")
	}
	read = c.generation()
	c.keep("held", key, read, page)
	if _, ok := c.get("held", key); !ok {
		t.Fatal("did not keep a page read with no commit since")
	}
	read = c.generation()
	c.changed(map[string]struct{}{"held": {}})
	if _, ok := c.get("held", key); ok {
		t.Fatal("a commit of the user's orders left the user's page")
	}
	c.keep("held", key, read, page)
	if _, ok := c.get("held", key); ok {
		t.Fatal("kept a page read before a commit, its user held then")
	}
}

// TestKeptPagesStayWithinTheirBudget: however many users and pages are
// read, the kept bodies stay within firstPagesBudget, the least recently
// read users going first.
func TestKeptPagesStayWithinTheirBudget(t *testing.T) {
	c := newFirstPages()
	body := []byte(`{"id":"` + strings.Repeat("x", 4000) + `"}`)
	page := keptPage{items: []RawOrder{{ID: "ord", JSON: body}}}
	users := 2 * firstPagesBudget / len(body)
	for i := range users {
		c.keep(fmt.Sprint("user-", i), pageKey{limit: 1}, c.generation(), page)
		if c.bytes > firstPagesBudget {
			t.Fatalf("after %d users: %d bytes kept", i+1, c.bytes)
		}
	}
	if _, ok := c.get(fmt.Sprint("user-", users-1), pageKey{limit: 1}); !ok {
		t.Error("the last user read lost its page")
	}
	if _, ok := c.get("user-0", pageKey{limit: 1}); ok {
		t.Error("the first user read kept its page")
	}
}

// TestReadOnlyReadModelsKeepNoPages: read models opened read-only (billing
// verify beside a server) are written by another process, which cannot
// tell them a page went stale: every page is read from the database.
func TestReadOnlyReadModelsKeepNoPages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "readmodels.db")
	rm, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	var pos eventstore.Position
	foldOrders(t, rm, &pos, "user-1", 0, 1)
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	q := OrderQuery{Limit: 20, SortBy: "created_at", Desc: true}
	if page, _, err := ro.Orders(ctx, "user-1", q); err != nil || len(page) != 1 {
		t.Fatalf("page %v, %v; want 1 order", ids(page), err)
	}
	foldOrders(t, rm, &pos, "user-1", 1, 1)
	if page, _, err := ro.Orders(ctx, "user-1", q); err != nil || len(page) != 2 {
		t.Fatalf("page %v, %v; want the order another process folded", ids(page), err)
	}
}

// TestKeptPagesHoldNoMoreThanTheirBudget: the memory kept pages hold, not
// only what they count, stays within firstPagesBudget, whatever sort and
// size clients ask for, for users with orders and users with none.
func TestKeptPagesHoldNoMoreThanTheirBudget(t *testing.T) {
	ctx := context.Background()
	rm := openTest(t)
	var pos eventstore.Position
	var users []string
	for u := range 4 {
		users = append(users, fmt.Sprint("user-", u), fmt.Sprint("nobody-", u))
		foldOrders(t, rm, &pos, users[len(users)-2], 0, 1)
	}
	read := func() {
		for _, u := range users {
			for _, sortBy := range []string{"created_at", "amount"} {
				for _, desc := range []bool{false, true} {
					for limit := 1; limit <= MaxLimit; limit++ {
						if _, _, err := rm.Orders(ctx, u, OrderQuery{Limit: limit, SortBy: sortBy, Desc: desc}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	}
	read() // the statements and connections, prepared
	rm.pages.mu.Lock()
	rm.pages.users.Purge()
	rm.pages.mu.Unlock()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	read()
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if counted := int64(rm.pages.bytes); held > 2*counted || counted > firstPagesBudget {
		t.Errorf("kept pages hold %d bytes and count %d (budget %d)", held, counted, firstPagesBudget)
	}
	runtime.KeepAlive(rm)
}
