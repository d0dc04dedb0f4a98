package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/eventstore"
)

// snapshots keeps the folded state of aggregates that are read far more
// often than they change (the plan catalog, wallets): every order reads
// both, twice. A state younger than maxAge that has what the caller looks
// for (a plan, a card) is used as it is; otherwise the store is asked for
// the events after the cached revision, and the whole stream is folded
// afresh when there are any. A change appended by this instance drops the
// cached state at once (Log.Append); one appended by another instance is
// seen within maxAge, and at once by a caller that does not find what it
// looks for: a card saved a moment ago is never refused. An order decided
// on a state at most maxAge old is one that raced with another instance's
// change (a card removed, a plan's price changed or the plan retired as
// the order came in), which no order of reads could tell from a change
// made a moment later.
//
// The aggregates handed out are shared and must not be changed: decisions
// read them and return events, and only a fresh fold calls Apply.
type snapshots[A Aggregate] struct {
	log    *Log
	cache  *lru.Cache[string, snapshot[A]]
	maxAge time.Duration
	now    func() time.Time // the real clock: ages are not billing times
	// keepMissing caches that a stream does not exist, too (asked again
	// after maxAge): for streams most keys never have.
	keepMissing bool
}

type snapshot[A Aggregate] struct {
	agg     A
	v       Version
	checked time.Time // when the store last confirmed v was the head
}

// snapshotMaxAge bounds how long a cached aggregate is used without asking
// the store whether it changed.
const snapshotMaxAge = time.Second

func newSnapshots[A Aggregate](l *Log, size int) *snapshots[A] {
	cache, err := lru.New[string, snapshot[A]](size)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &snapshots[A]{log: l, cache: cache, maxAge: snapshotMaxAge, now: time.Now}
}

// forget drops the cached state of stream, if any: this instance appended
// to it, and its next load must see what it wrote.
func (s *snapshots[A]) forget(stream string) { s.cache.Remove(stream) }

// load returns the aggregate of stream; newAgg makes the empty aggregate a
// fold starts from. has tells whether a state is enough for the caller
// (nil: any state is); a cached state without it is brought up to date.
func (s *snapshots[A]) load(ctx context.Context, stream string, newAgg func() A, has func(A) bool) (A, error) {
	snap, ok := s.cache.Get(stream)
	if ok && s.now().Sub(snap.checked) < s.maxAge && (has == nil || has(snap.agg)) {
		return snap.agg, nil
	}
	checked := s.now()
	if ok && snap.v.Exists {
		recs, err := s.log.Store.ReadStream(ctx, stream, eventstore.Forwards, snap.v.Revision+1, 1)
		if err == nil && len(recs) == 0 {
			snap.checked = checked
			s.cache.Add(stream, snap)
			return snap.agg, nil
		}
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			var zero A
			return zero, fmt.Errorf("load %s: %w", stream, err)
		}
	}
	agg := newAgg()
	v, err := s.log.Load(ctx, stream, agg)
	if err != nil {
		return agg, err
	}
	if v.Exists || s.keepMissing {
		s.cache.Add(stream, snapshot[A]{agg: agg, v: v, checked: checked})
	}
	return agg, nil
}
