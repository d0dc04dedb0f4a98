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
	tl := newTail(4)
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
	tl.add(at(1, 2))
	tl.add(at(5, 6, 7)) // 3 and 4 are another process's; 1 is forgotten
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
