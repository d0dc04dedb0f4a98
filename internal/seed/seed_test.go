package seed

import (
	"slices"
	"testing"
)

func TestScheduleKeepsEachUsersOrdersInOrder(t *testing.T) {
	users := []user{{"heavy", 50}, {"a", 7}, {"b", 0}, {"c", 13}}
	for _, interleave := range []bool{false, true} {
		next := map[string]int{}
		var who []string
		for u, n := range schedule(users, interleave) {
			if n != next[u] {
				t.Fatalf("interleave=%v: %s's order %d came after %d of theirs", interleave, u, n, next[u])
			}
			next[u]++
			who = append(who, u)
		}
		for _, u := range users {
			if next[u.id] != u.orders {
				t.Errorf("interleave=%v: %s has %d orders, want %d", interleave, u.id, next[u.id], u.orders)
			}
		}
		// User after user, the first 50 are the heavy user's; interleaved,
		// the others' orders are among them.
		if got := slices.Index(who, "a") < 50 || slices.Index(who, "c") < 50; got != interleave {
			t.Errorf("interleave=%v: another user's order among the first 50: %v", interleave, got)
		}
	}
}
