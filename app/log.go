package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Metadata travels with every event: who acted, which command, which event
// caused it, and for commands from HTTP their idempotency key.
type Metadata struct {
	CorrelationID  string `json:"correlation_id,omitempty"`
	CausationID    string `json:"causation_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Aggregate is anything folded from its stream's events.
type Aggregate interface {
	Apply(domain.Event)
}

// Version is the state of a stream when it was loaded.
type Version struct {
	Revision uint64              // last revision; meaningless unless Exists
	Position eventstore.Position // of the last event
	Exists   bool
}

// Expected is the condition under which an append keeps what was loaded.
func (v Version) Expected() eventstore.ExpectedRevision {
	if !v.Exists {
		return eventstore.NoStream
	}
	return eventstore.Exact(v.Revision)
}

// Log is the event store seen through the domain: domain events in and out.
type Log struct {
	Store eventstore.Store
	Now   func() time.Time
	// TestClocks gives each user a test clock (the sandbox): UserNow
	// reads it. Off, every user's time is Now.
	TestClocks bool

	catalog *snapshots[*domain.Catalog]
	wallets *snapshots[*domain.Wallet]
	clocks  *snapshots[*domain.TestClock]
}

// cachedWallets bounds how many users' wallets stay folded in memory.
const cachedWallets = 16384

// NewLog returns a Log on store with the given clock (time.Now if nil).
func NewLog(store eventstore.Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	l := &Log{Store: store, Now: now}
	l.catalog = newSnapshots[*domain.Catalog](l, 1)
	l.wallets = newSnapshots[*domain.Wallet](l, cachedWallets)
	l.clocks = newSnapshots[*domain.TestClock](l, cachedWallets)
	l.clocks.keepMissing = true // most users never advance theirs
	return l
}

// UserNow is userID's billing time: their test clock's when TestClocks is
// on (the real time until they first advance it), else Now. A clock
// advanced by this instance is read at once; by another, within a second.
func (l *Log) UserNow(ctx context.Context, userID string) (time.Time, error) {
	real := l.Now()
	if !l.TestClocks {
		return real, nil
	}
	c, err := l.Clock(ctx, userID)
	if err != nil {
		return time.Time{}, err
	}
	return c.Now(real), nil
}

// Clock returns userID's test clock (shared: read it, never change it).
func (l *Log) Clock(ctx context.Context, userID string) (*domain.TestClock, error) {
	return l.clocks.load(ctx, domain.ClockStream(userID), func() *domain.TestClock { return &domain.TestClock{UserID: userID} }, nil)
}

// Catalog returns the plan catalog as the log had it at most a second ago
// and, when has is not nil, as the log has it now unless that state
// satisfies has (a plan looked up is there): see snapshots. It is shared:
// read it, never change it.
func (l *Log) Catalog(ctx context.Context, has func(*domain.Catalog) bool) (*domain.Catalog, error) {
	return l.catalog.load(ctx, domain.CatalogStream, domain.NewCatalog, has)
}

// Wallet returns userID's wallet (empty when the user has none yet) as the
// log had it at most a second ago and, when has is not nil, as the log has
// it now unless that state satisfies has (a card looked up is there): see
// snapshots. It is shared: read it, never change it.
func (l *Log) Wallet(ctx context.Context, userID string, has func(*domain.Wallet) bool) (*domain.Wallet, error) {
	return l.wallets.load(ctx, domain.WalletStream(userID), func() *domain.Wallet { return domain.NewWallet(userID) }, has)
}

const loadPage = 1024

// Load folds every event of stream into agg and returns the stream's version;
// a stream that does not exist leaves agg untouched.
func (l *Log) Load(ctx context.Context, stream string, agg Aggregate) (Version, error) {
	return l.load(ctx, stream, agg, nil)
}

// load is Load, telling seen (when not nil) each event's id.
func (l *Log) load(ctx context.Context, stream string, agg Aggregate, seen func(uuid.UUID)) (Version, error) {
	var v Version
	for from := uint64(0); ; {
		recs, err := l.Store.ReadStream(ctx, stream, eventstore.Forwards, from, loadPage)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return v, nil
		}
		if err != nil {
			return v, fmt.Errorf("load %s: %w", stream, err)
		}
		for _, rec := range recs {
			e, err := domain.Decode(rec.Type, rec.Data)
			if err != nil {
				return v, fmt.Errorf("load %s at revision %d: %w", stream, rec.Revision, err)
			}
			agg.Apply(e)
			if seen != nil {
				seen(rec.ID)
			}
			v = Version{Revision: rec.Revision, Position: rec.Position, Exists: true}
		}
		if len(recs) < loadPage {
			return v, nil
		}
		from = v.Revision + 1
	}
}

// Append writes events, which must all belong to stream, under the
// condition expected. ids gives each event's id; nil means: derived from
// meta.CausationID and the event's type when the events have a cause (so a
// cause handled twice appends its effects once), random otherwise.
func (l *Log) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events []domain.Event, ids []uuid.UUID, meta Metadata) (eventstore.AppendResult, error) {
	if ids == nil {
		ids = idsFor(events, meta)
	}
	if len(ids) != len(events) {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %d ids for %d events", stream, len(ids), len(events))
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		if e.StreamID() != stream {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: event %s belongs to %s", stream, e.EventType(), e.StreamID())
		}
		typ, body, err := domain.Encode(e)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		data[i] = eventstore.EventData{ID: ids[i], Type: typ, Data: body, Metadata: metaJSON}
	}
	res, err := l.Store.Append(ctx, stream, expected, data...)
	// A cached catalog or wallet must not hide this instance's own write,
	// also when the append's outcome is unknown.
	l.catalog.forget(stream)
	l.wallets.forget(stream)
	l.clocks.forget(stream)
	return res, err
}

func idsFor(events []domain.Event, meta Metadata) []uuid.UUID {
	cause, err := uuid.Parse(meta.CausationID)
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		if err == nil {
			ids[i] = domain.EventIDFor(cause, e.EventType())
		} else {
			ids[i] = uuid.New()
		}
	}
	return ids
}

// maxAttempts bounds how often Update decides again after losing a race.
const maxAttempts = 10

// Loaded is an aggregate as loaded from its stream: what a process that
// loads the state, acts on it elsewhere (a provider call) and then records
// the outcome passes to UpdateLoaded, so the outcome's decision need not
// load the stream again.
type Loaded[A Aggregate] struct {
	Agg     A
	Version Version
	ids     map[uuid.UUID]bool // of the loaded events
}

// LoadAggregate folds stream into a new aggregate from newAgg.
func LoadAggregate[A Aggregate](ctx context.Context, l *Log, stream string, newAgg func() A) (Loaded[A], error) {
	loaded := Loaded[A]{Agg: newAgg(), ids: map[uuid.UUID]bool{}}
	var err error
	loaded.Version, err = l.load(ctx, stream, loaded.Agg, func(id uuid.UUID) { loaded.ids[id] = true })
	return loaded, err
}

// Assume is the state of a stream believed to end at last, whose events
// the caller folded into agg: what a process that was handed the event
// passes to UpdateLoaded instead of reading the stream. Should the stream
// hold more, the append under it is refused and UpdateLoaded reloads.
func Assume[A Aggregate](agg A, last eventstore.RecordedEvent) Loaded[A] {
	return Loaded[A]{
		Agg:     agg,
		Version: Version{Revision: last.Revision, Position: last.Position, Exists: true},
		ids:     map[uuid.UUID]bool{last.ID: true},
	}
}

// UpdateLoaded is Update whose first decision is made on loaded, the
// stream's state when it was loaded before. Should the stream have moved
// on since, the append is refused and the decision made again on a fresh
// load, as in Update; but a first decision of no events stands, so use it
// where what the loaded state settles stays settled (an order no longer
// pending never is again). The first decision must not change loaded.Agg.
func UpdateLoaded[A Aggregate](ctx context.Context, l *Log, stream string, loaded Loaded[A], newAgg func() A, decide func(A) ([]domain.Event, error), meta Metadata) ([]domain.Event, eventstore.AppendResult, error) {
	return update(ctx, l, stream, &loaded, newAgg, decide, meta)
}

// Update is a command's whole life: load the aggregate from stream, decide
// with its current state, append the decision under the loaded revision.
// When another writer appended first it reloads and decides again, so the
// decision always rests on the latest state. It returns the events appended
// (none when the decision was "nothing to do"), the decision's error as is
// (a *domain.Error for a refusal), or the store's error. The result tells
// where the append landed or, when nothing was appended, where the stream
// stood: read models that reached it show the state the decision saw.
func Update[A Aggregate](ctx context.Context, l *Log, stream string, newAgg func() A, decide func(A) ([]domain.Event, error), meta Metadata) ([]domain.Event, eventstore.AppendResult, error) {
	return update(ctx, l, stream, nil, newAgg, decide, meta)
}

func update[A Aggregate](ctx context.Context, l *Log, stream string, first *Loaded[A], newAgg func() A, decide func(A) ([]domain.Event, error), meta Metadata) ([]domain.Event, eventstore.AppendResult, error) {
	for attempt := 1; ; attempt++ {
		var loaded Loaded[A]
		if attempt == 1 && first != nil {
			loaded = *first
		} else {
			var err error
			if loaded, err = LoadAggregate(ctx, l, stream, newAgg); err != nil {
				return nil, eventstore.AppendResult{}, err
			}
		}
		agg, v, ids := loaded.Agg, loaded.Version, loaded.ids
		events, err := decide(agg)
		if err != nil {
			return nil, eventstore.AppendResult{}, err
		}
		unchanged := eventstore.AppendResult{Revision: v.Revision, Position: v.Position}
		if len(events) == 0 {
			return nil, unchanged, nil
		}
		// An effect whose derived id the stream already holds was recorded
		// when its cause was handled before: not again, whatever the store
		// (EventStoreDB would write the duplicate at the stream's head).
		newIDs := idsFor(events, meta)
		for _, id := range newIDs {
			if ids[id] {
				return nil, unchanged, nil
			}
		}
		res, err := l.Append(ctx, stream, v.Expected(), events, newIDs, meta)
		if errors.Is(err, eventstore.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return nil, eventstore.AppendResult{}, err
		}
		return events, res, nil
	}
}
