package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// collect reads from sub until it has n of the events whose stream is in
// names, and returns those, failing on a position that does not increase.
func collect(t *testing.T, sub eventstore.Subscription, names map[string]bool, n int) []eventstore.RecordedEvent {
	t.Helper()
	ctx := ctxFor(t)
	var got []eventstore.RecordedEvent
	last := eventstore.Start
	for len(got) < n {
		evs, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("subscription after %d of %d events: %v", len(got), n, err)
		}
		if len(evs) == 0 {
			t.Fatal("Next returned an empty batch without error")
		}
		for _, e := range evs {
			if e.Position <= last {
				t.Fatalf("subscription delivered position %d after %d", e.Position, last)
			}
			last = e.Position
			if names[e.Stream] {
				got = append(got, e)
			}
		}
	}
	return got
}

// testSubscriptionSeam: a subscription started behind the head catches up
// and goes live while writers keep appending; it delivers exactly the log:
// every event once, in log order, nothing missed at the seam.
func testSubscriptionSeam(t *testing.T, s eventstore.Store) {
	const before, writers, perWriter = 40, 4, 30
	ctx := ctxFor(t)
	from := head(t, s)
	names := map[string]bool{}
	seed := newStream("seam")
	names[seed] = true
	mustAppend(t, s, seed, eventstore.NoStream, events(before, "e")...)

	sub, err := s.SubscribeAll(ctx, from)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		name := newStream("seam")
		names[name] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if _, err := s.Append(ctx, name, eventstore.Any, events(1, "e")...); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	got := collect(t, sub, names, before+writers*perWriter)
	wg.Wait()

	var want []eventstore.RecordedEvent
	for pos := from; ; {
		evs, err := s.ReadAll(ctx, pos, 1000)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			if names[e.Stream] {
				want = append(want, e)
			}
		}
		pos = evs[len(evs)-1].Position
	}
	if len(got) != len(want) {
		t.Fatalf("subscription delivered %d events, the log holds %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
			t.Fatalf("event %d: subscription gave %s@%d, log has %s@%d", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
		}
	}
}

// testSubscriptionResume: a consumer that stores the position of the last
// event it handled and subscribes again from it continues exactly there.
func testSubscriptionResume(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	from := head(t, s)
	stream := newStream("resume")
	names := map[string]bool{stream: true}
	evs := events(10, "e")
	mustAppend(t, s, stream, eventstore.NoStream, evs[:6]...)

	sub, err := s.SubscribeAll(ctx, from)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	first := collect(t, sub, names, 6)
	sub.Close()
	checkpoint := first[3].Position // handled four, then stopped

	mustAppend(t, s, stream, eventstore.Exact(5), evs[6:]...)
	sub, err = s.SubscribeAll(ctx, checkpoint)
	if err != nil {
		t.Fatalf("resubscribe: %v", err)
	}
	defer sub.Close()
	rest := collect(t, sub, names, 6)
	for i, e := range rest {
		if e.ID != evs[4+i].ID {
			t.Fatalf("after resuming, event %d is %s, want %s", i, e.ID, evs[4+i].ID)
		}
	}
}

// testSubscriptionWaits: at the head, Next waits for the next append and
// delivers it; with nothing appended it returns when its context ends.
func testSubscriptionWaits(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	sub, err := s.SubscribeAll(ctx, head(t, s))
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if evs, err := sub.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next at the head with nothing appended: got %d events, err %v; want DeadlineExceeded", len(evs), err)
	}

	stream := newStream("wait")
	ev := events(1, "e")
	done := make(chan []eventstore.RecordedEvent, 1)
	go func() {
		evs, err := sub.Next(ctx)
		if err != nil {
			t.Errorf("Next: %v", err)
		}
		done <- evs
	}()
	mustAppend(t, s, stream, eventstore.NoStream, ev...)
	got := <-done
	for _, e := range got {
		if e.ID == ev[0].ID {
			return
		}
	}
	t.Fatalf("Next returned %d events without the one appended while it waited", len(got))
}

func testSubscriptionClose(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	sub, err := s.SubscribeAll(ctx, head(t, s))
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Next(ctx)
		errc <- err
	}()
	// Close from another goroutine wakes a waiting Next.
	sub.Close()
	if err := <-errc; err != nil && !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	mustAppend(t, s, newStream("closed"), eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "e", Data: []byte(`{}`)})
	if _, err := sub.Next(ctx); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Next on a closed subscription: %v, want ErrClosed", err)
	}
}
