package reconciler

import (
	"context"
	"errors"

	"github.com/robotlabor/billing/eventstore"
)

// recentEvents bounds how far back lastMatching looks: the reconciler's
// questions are about a stream's latest events.
const recentEvents = 1000

// lastMatching returns the most recent of a stream's last events that
// match, and whether one did; a stream that does not exist has none.
func (r *Reconciler) lastMatching(ctx context.Context, stream string, match func(eventstore.RecordedEvent) bool) (eventstore.RecordedEvent, bool, error) {
	recs, err := r.cfg.Log.Store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, recentEvents)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return eventstore.RecordedEvent{}, false, nil
	}
	if err != nil {
		return eventstore.RecordedEvent{}, false, err
	}
	for _, rec := range recs {
		if match(rec) {
			return rec, true, nil
		}
	}
	return eventstore.RecordedEvent{}, false, nil
}
