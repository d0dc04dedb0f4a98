package sqlitex

import (
	"runtime"
	"time"
)

// Gather collects the calls of a group commit from a queue.
//
// It takes what the queue holds, up to Max, then yields the processor
// (runtime.Gosched) and takes what came meanwhile, again as long as a
// yield brought more. On a busy machine the goroutines that were runnable
// (requests a step away from their call) run first and join the group
// instead of waiting for the next commit; an idle machine has none, and
// the yield returns at once. Yielding again while the group grows took
// 3% more orders a second at 64 clients (3.4% less CPU an order, seven
// pairs) than one yield, and as many at 16 clients and at one. Each
// commit costs a sync and a write of every page the group dirtied: an
// order cost about 40% more CPU at 16 clients than at 64, mostly in the
// smaller groups' commits (docs/performance-log.md). With the yield, 64
// clients placed 2–14% more orders a second, 16 clients 10–27% more, at
// a lower p50 (three pairs each), and one client as many. Under load it
// also lingers, as PostgreSQL's commit_delay does beside commit_siblings:
// when the previous group held at least lingerSiblings calls, more are on
// their way, and waiting up to Linger for the group to reach lingerGroup
// spares commits. Each commit costs a sync and a write of every page the
// group dirtied, so on a busy machine fewer, larger groups leave more CPU
// for everything else than the wait costs. A caller alone, or a few, never
// wait: their groups stay small.
type Gather[T any] struct {
	Queue  <-chan T
	Stop   <-chan struct{}
	Max    int
	Linger time.Duration // 0: never linger

	prev  int // the previous group's size
	timer *time.Timer
}

// DefaultLinger is the linger of the service's group commits.
const DefaultLinger = time.Millisecond

const (
	// lingerSiblings is how large the previous group must have been for
	// the next one to linger.
	lingerSiblings = 16
	// lingerGroup is the size at which a lingering group stops waiting.
	lingerGroup = 32
	// lingerGaps: a lingering group also stops when no call came for
	// Linger/lingerGaps; the load has passed.
	lingerGaps = 5
)

// Next waits for a call and returns the group it starts, appended to
// batch[:0]; false once Stop is closed.
func (g *Gather[T]) Next(batch []T) ([]T, bool) {
	select {
	case c := <-g.Queue:
		batch = append(batch[:0], c)
	case <-g.Stop:
		return batch[:0], false
	}
	batch = g.drain(batch)
	for len(batch) < g.Max {
		n := len(batch)
		runtime.Gosched() // let callers a step away join (see above)
		if batch = g.drain(batch); len(batch) == n {
			break
		}
	}
	if full := min(lingerGroup, g.Max); g.Linger > 0 && g.prev >= lingerSiblings && len(batch) < full {
		end := time.Now().Add(g.Linger)
		gap := g.Linger / lingerGaps
		if g.timer == nil {
			g.timer = time.NewTimer(gap)
		} else {
			g.timer.Reset(gap)
		}
	wait:
		for len(batch) < full {
			select {
			case c := <-g.Queue:
				batch = append(batch, c)
				g.timer.Reset(min(gap, time.Until(end)))
			case <-g.timer.C:
				break wait
			case <-g.Stop:
				break wait // commit what is here; the next call ends
			}
		}
		g.timer.Stop()
		batch = g.drain(batch)
	}
	g.prev = len(batch)
	return batch, true
}

// drain appends what the queue holds, up to Max calls in all.
func (g *Gather[T]) drain(batch []T) []T {
	for len(batch) < g.Max {
		select {
		case c := <-g.Queue:
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}
