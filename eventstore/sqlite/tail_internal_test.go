package sqlite

import (
	"slices"
	"testing"

	"github.com/robotlabor/billing/eventstore"
)

// TestTailServesOnlyWhatFollowsWithoutAGap: the tail answers a read after
// p only from p+1 on, stops at a gap (another process's commit) or at max,
// and forgets its oldest events once full; the caller then reads the file.
func TestTailServesOnlyWhatFollowsWithoutAGap(t *testing.T) {
	tl := newTail(4, 1<<20)
	at := func(ps ...eventstore.Position) []eventstore.RecordedEvent {
		evs := make([]eventstore.RecordedEvent, len(ps))
		for i, p := range ps {
			evs[i] = eventstore.RecordedEvent{Position: p, Data: []byte{byte(p)}}
		}
		return evs
	}
	positions := func(evs []eventstore.RecordedEvent) []eventstore.Position {
		var ps []eventstore.Position
		for _, e := range evs {
			ps = append(ps, e.Position)
		}
		return ps
	}
	if tl.endsAt(0) {
		t.Error("an empty tail ends at 0: a subscriber would never read the file")
	}
	tl.add(at(1, 2))
	tl.add(at(5, 6, 7)) // 3 and 4 are another process's; 1 is forgotten
	// Only a subscriber at the newest event has everything this process
	// committed (readAfter then leaves the file to the poll).
	for p, want := range map[eventstore.Position]bool{2: false, 4: false, 6: false, 7: true, 8: false} {
		if got := tl.endsAt(p); got != want {
			t.Errorf("endsAt(%d) = %v, want %v", p, got, want)
		}
	}
	for _, c := range []struct {
		from eventstore.Position
		max  int
		want []eventstore.Position
	}{
		{0, 10, nil},                      // 1 is no longer held
		{1, 10, []eventstore.Position{2}}, // up to the gap
		{2, 10, nil},                      // 3 is not this process's
		{4, 10, []eventstore.Position{5, 6, 7}},
		{4, 2, []eventstore.Position{5, 6}},
		{7, 10, nil}, // nothing after the head yet
	} {
		got := positions(tl.after(c.from, c.max))
		if !slices.Equal(got, c.want) {
			t.Errorf("after(%d, %d) = %v, want %v", c.from, c.max, got, c.want)
		}
	}
	if evs := tl.after(4, 10); evs[1].Data[0] != 6 {
		t.Errorf("event 6's data = %v", evs[1].Data)
	}
}

// TestTailKeepsWithinItsBytes: large events push the oldest out of the
// tail, even when it has room for more of them, and one event larger than
// the bound is not kept at all.
func TestTailKeepsWithinItsBytes(t *testing.T) {
	tl := newTail(100, 1000)
	ev := func(p eventstore.Position, n int) eventstore.RecordedEvent {
		return eventstore.RecordedEvent{Position: p, Data: make([]byte, n)}
	}
	tl.add([]eventstore.RecordedEvent{ev(1, 400), ev(2, 400), ev(3, 400)})
	if got := tl.after(0, 10); got != nil {
		t.Errorf("after(0) = %d events; 1 should be forgotten (1,200 bytes > 1,000)", len(got))
	}
	if got := tl.after(1, 10); len(got) != 2 {
		t.Errorf("after(1) = %d events, want 2 and 3", len(got))
	}
	tl.add([]eventstore.RecordedEvent{ev(4, 5000)})
	if got := tl.after(3, 10); got != nil || tl.n != 0 || tl.bytes != 0 {
		t.Errorf("an event over the bound: after(3) = %d events, %d held, %d bytes", len(got), tl.n, tl.bytes)
	}
	tl.add([]eventstore.RecordedEvent{ev(5, 10)})
	if got := tl.after(4, 10); len(got) != 1 {
		t.Errorf("after(4) = %d events, want 5", len(got))
	}
}
