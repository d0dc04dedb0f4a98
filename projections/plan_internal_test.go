package projections

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestListsWalkTheirIndex: every list query reads the user's rows through
// the index in the page's order, never sorting nor scanning a user's whole
// history.
func TestListsWalkTheirIndex(t *testing.T) {
	rm := openTest(t)
	var queries []listQuery
	for _, after := range []string{"", "x"} {
		for _, desc := range []bool{true, false} {
			queries = append(queries,
				listQuery{table: "orders", columns: orderListColumns, sortBy: "created_at", desc: desc, afterID: after},
				listQuery{table: "orders", columns: orderListColumns, sortBy: "amount", desc: desc, afterID: after},
			)
		}
		queries = append(queries,
			listQuery{table: "payment_methods", columns: paymentMethodColumns, sortBy: "created_at", desc: true, afterID: after},
			listQuery{table: "subscriptions", columns: subscriptionColumns, sortBy: "created_at", desc: true, afterID: after},
		)
	}
	for _, q := range queries {
		args := []any{"user_1"}
		if q.afterID != "" {
			args = append(args, 0, q.afterID)
		}
		plan := explain(t, rm, q.sql(), args...)
		index := fmt.Sprintf("INDEX %s_by_user_%s", q.table, strings.TrimSuffix(q.sortBy, "_at"))
		if q.table == "orders" && q.sortBy == "created_at" {
			index = "orders USING PRIMARY KEY" // the table is in that order
		}
		if !strings.Contains(plan, index) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s\nplan: %s\nwant a walk of %s without sorting", q.sql(), plan, index)
		}
	}
}

func explain(t *testing.T, rm *ReadModels, query string, args ...any) string {
	t.Helper()
	rows, err := rm.readers.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	return strings.Join(lines, "; ")
}

// TestOrderUpdateSearchesTheTableByItsKey: an order's update (writeOrder)
// finds its row by the table's key alone, not through the id index and
// then the table, as SQLite's planner would choose unless told not to.
func TestOrderUpdateSearchesTheTableByItsKey(t *testing.T) {
	rm := openTest(t)
	plan := explain(t, rm, updateOrderByKey, "paid", "{}", 1, "user_1", 1, "ord_1")
	if plan != "SEARCH orders USING PRIMARY KEY (user_id=? AND created_at=? AND id=?)" {
		t.Fatalf("the order's update: %s\nwant a search of the table by its key", plan)
	}
}
