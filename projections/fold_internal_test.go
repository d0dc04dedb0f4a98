package projections

import (
	"context"
	"testing"

	"github.com/robotlabor/billing/eventstore"
)

// sparseLog is a log whose positions have gaps, as EventStoreDB's commit
// positions do. Only ReadAll is implemented.
type sparseLog struct {
	eventstore.Store
	positions []eventstore.Position
	reads     *int
}

func (s sparseLog) ReadAll(_ context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	*s.reads++
	var out []eventstore.RecordedEvent
	for _, p := range s.positions {
		if p > from && len(out) < max {
			out = append(out, eventstore.RecordedEvent{Position: p})
		}
	}
	return out, nil
}

// TestHeadPositionFindsTheLastEvent without reading the log through: a few
// one-event reads, however large the positions.
func TestHeadPositionFindsTheLastEvent(t *testing.T) {
	for _, positions := range [][]eventstore.Position{
		nil,
		{1},
		{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
		{7, 100, 5000, 123456789},
		{1<<62 + 5},
		{3, maxPosition},
	} {
		reads := 0
		got, err := headPosition(context.Background(), sparseLog{positions: positions, reads: &reads})
		want := eventstore.Start
		if len(positions) > 0 {
			want = positions[len(positions)-1]
		}
		if err != nil || got != want {
			t.Errorf("log at %v: head %d, %v; want %d", positions, got, err, want)
		}
		if reads > 130 {
			t.Errorf("log at %v: %d reads to find the head", positions, reads)
		}
	}
}
