package projections_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robotlabor/billing/projections"
)

// TestKeptPagesReadYourWritesUnderLoad: writers place and pay orders and
// after each write wait for its fold, Sync and list the first page, as a
// handler would; pollers read the same first pages all the while so that
// the cache holds them. Every list after Sync must show the write.
func TestKeptPagesReadYourWritesUnderLoad(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var stop atomic.Bool
	var pollers, writers sync.WaitGroup
	users := []string{"u0", "u1", "u2", "u3"}
	q := projections.OrderQuery{Limit: 100, SortBy: "created_at", Desc: true}
	for range 4 {
		pollers.Add(1)
		go func() {
			defer pollers.Done()
			for i := 0; !stop.Load(); i++ {
				if _, _, err := h.rm.Orders(ctx, users[i%len(users)], q); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var failures, reads atomic.Int32
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			u := users[w%len(users)]
			for i := range 60 {
				o := placed(u, fmt.Sprintf("w%d-%d", w, i), int64(1000+i), t0.Add(time.Duration(w*1000+i)*time.Second))
				for step, want := range []string{"pending", "paid"} {
					var pos = h.append(o)
					if step == 1 {
						pos = h.append(paid(o, t0))
					}
					if err := h.p.WaitFolded(ctx, pos); err != nil {
						t.Error(err)
						return
					}
					if err := h.p.Sync(ctx); err != nil {
						t.Error(err)
						return
					}
					page, _, err := h.rm.Orders(ctx, u, q)
					if err != nil {
						t.Error(err)
						return
					}
					reads.Add(1)
					found := false
					for _, r := range page {
						if r.ID == string(o.OrderID) {
							found = strings.Contains(string(r.JSON), `"status":"`+want+`"`)
						}
					}
					if !found && failures.Add(1) < 5 {
						t.Errorf("user %s order %s: after Sync the first page does not show it %s", u, o.OrderID, want)
					}
				}
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	pollers.Wait()
	t.Logf("%d reads after writes, %d stale", reads.Load(), failures.Load())
}
