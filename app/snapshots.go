package app

import (
	"context"
	"errors"
	"fmt"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/eventstore"
)

// snapshots keeps the folded state of aggregates that are read far more
// often than they change (the plan catalog, wallets): every order reads
// both. A load asks the store only for events after the cached revision,
// one read that finds none while nothing changed, and folds the whole
// stream afresh when something did. The store stays the authority: a write
// by another instance is seen by the next load, as without the cache.
//
// The aggregates handed out are shared and must not be changed: decisions
// read them and return events, and only a fresh fold calls Apply.
type snapshots[A Aggregate] struct {
	log   *Log
	cache *lru.Cache[string, snapshot[A]]
}

type snapshot[A Aggregate] struct {
	agg A
	v   Version
}

func newSnapshots[A Aggregate](l *Log, size int) *snapshots[A] {
	cache, err := lru.New[string, snapshot[A]](size)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &snapshots[A]{log: l, cache: cache}
}

// load returns the aggregate of stream as the log has it now, and its
// version; newAgg makes the empty aggregate a fold starts from.
func (s *snapshots[A]) load(ctx context.Context, stream string, newAgg func() A) (A, Version, error) {
	if snap, ok := s.cache.Get(stream); ok && snap.v.Exists {
		recs, err := s.log.Store.ReadStream(ctx, stream, eventstore.Forwards, snap.v.Revision+1, 1)
		if err == nil && len(recs) == 0 {
			return snap.agg, snap.v, nil
		}
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			var zero A
			return zero, Version{}, fmt.Errorf("load %s: %w", stream, err)
		}
	}
	agg := newAgg()
	v, err := s.log.Load(ctx, stream, agg)
	if err != nil {
		return agg, v, err
	}
	if v.Exists {
		s.cache.Add(stream, snapshot[A]{agg: agg, v: v})
	}
	return agg, v, nil
}
