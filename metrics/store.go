package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// Store counts and times the appends of the store it wraps.
type Store struct {
	eventstore.Store
	m *Metrics
}

// InstrumentStore wraps s.
func (m *Metrics) InstrumentStore(s eventstore.Store) *Store { return &Store{Store: s, m: m} }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	start := time.Now()
	res, err := s.Store.Append(ctx, stream, expected, events...)
	result := "ok"
	switch {
	case err == nil:
		s.m.appendTime.Observe(time.Since(start).Seconds())
	case errors.Is(err, eventstore.ErrConflict):
		result = "conflict"
	case errors.Is(err, eventstore.ErrInvalidAppend):
		result = "invalid"
	default:
		result = "error"
	}
	s.m.appends.WithLabelValues(result).Inc()
	return res, err
}
