package sqlitex

import (
	"runtime"
	"testing"
	"time"
)

// A caller alone is committed at once, however long the linger: a group
// lingers only after a group of lingerSiblings or more.
func TestGatherLingersOnlyUnderLoad(t *testing.T) {
	q := make(chan int, 64)
	g := Gather[int]{Queue: q, Stop: make(chan struct{}), Max: 64, Linger: time.Hour}
	q <- 1
	if batch, ok := g.Next(nil); !ok || len(batch) != 1 {
		t.Fatalf("a lone call: got %v, %v; want [1] at once", batch, ok)
	}
	for i := range lingerSiblings {
		q <- i
	}
	if batch, _ := g.Next(nil); len(batch) != lingerSiblings {
		t.Fatalf("queued calls: got %d, want %d in one group", len(batch), lingerSiblings)
	}
	// The previous group was large: the next waits for more, and ends
	// once it holds lingerGroup calls (the linger itself is an hour).
	go func() {
		for i := range lingerGroup {
			q <- i
		}
	}()
	if batch, _ := g.Next(nil); len(batch) != lingerGroup {
		t.Fatalf("under load: got a group of %d, want %d", len(batch), lingerGroup)
	}
}

// A lingering group ends when the calls stop coming; a stopped Gather
// gives no group.
func TestGatherStopsLingeringWhenCallsStop(t *testing.T) {
	q := make(chan int, 64)
	g := Gather[int]{Queue: q, Stop: make(chan struct{}), Max: 64, Linger: 5 * time.Millisecond, prev: lingerSiblings}
	q <- 1
	if b, ok := g.Next(nil); !ok || len(b) != 1 {
		t.Fatalf("got %v, %v; want [1] once the calls stopped", b, ok)
	}
	stop := make(chan struct{})
	close(stop)
	g = Gather[int]{Queue: q, Stop: stop, Max: 64, Linger: time.Hour, prev: lingerSiblings}
	if _, ok := g.Next(nil); ok {
		t.Fatal("Next after Stop: want false")
	}
}

// On a busy processor, a caller that is runnable when a group starts (a
// request a step away from its call) joins that group rather than wait
// for the next commit.
func TestGatherLetsRunnableCallersJoin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one processor: the caller runs only if the gatherer yields
	q := make(chan int, 2)
	g := Gather[int]{Queue: q, Stop: make(chan struct{}), Max: 64}
	joined := 0
	for range 20 {
		q <- 1
		go func() { q <- 2 }()
		batch, _ := g.Next(nil)
		if len(batch) == 2 {
			joined++
		} else {
			<-q
		}
	}
	if joined < 10 {
		t.Fatalf("a runnable caller joined the group %d times of 20", joined)
	}
}
