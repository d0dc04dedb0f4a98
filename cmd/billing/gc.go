package main

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target when the environment does not
// set GOGC. billing's live heap is small (about 20 MB under load: the event
// store's tail, NATS buffers), but every order allocates, so with Go's
// default of 100 the collector ran seven times a second at 3,000 orders/s
// and took about a tenth of serve's CPU, with its write barriers and
// assists. At 400 the heap may grow to five times the live one (110 to
// 145 MB under the perf tool's load) and an order costs 9% less CPU
// (docs/performance-log.md). Like Prometheus, billing picks its own default
// and leaves GOGC, and GOMEMLIMIT, to the operator.
const gcPercent = 400

// tuneGC sets the collector's target to gcPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
