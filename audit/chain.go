package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/robotlabor/billing/eventstore"
)

// Chained is a store whose appends chain each stream: every event's
// metadata gains prev_hash, the hash of the stream's previous event, and
// hash, its own (see hasher.sum). Reads pass through.
//
// The predecessor is the event at the append's expected revision, so the
// store's optimistic concurrency that lets one of two racing writers win
// also lets one chain continue: a chain cannot fork, on one instance or
// many. An append must therefore name its predecessor: NoStream or an
// exact revision. Any and StreamExists are refused (ErrInvalidAppend):
// chained after whatever head it read, a retried Any append would be
// written again instead of being recognised, and two racing ones would
// conflict, which Any promises never to do. The ledger appends under
// NoStream or the revision it decided on, always.
type Chained struct {
	eventstore.Store

	mu    sync.Mutex
	heads map[string]head // the last event this process appended, per stream
}

type head struct {
	revision uint64
	hash     string
}

// rememberedHeads bounds Chained's memory; past it, it starts afresh.
const rememberedHeads = 1 << 16

// Chain wraps store.
func Chain(store eventstore.Store) *Chained {
	return &Chained{Store: store, heads: map[string]head{}}
}

// Append implements eventstore.Store, for NoStream and exact revisions.
func (c *Chained) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	// Refused before any read, as every backend refuses them.
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	first, prev, err := c.predecessor(ctx, stream, expected)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	linked, last, err := chain(stream, first, prev, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	res, err := c.Store.Append(ctx, stream, expected, linked...)
	if err == nil && res.Written {
		// Not after an idempotent repeat: the events stored are the
		// first append's, whose metadata, and so hashes, may differ.
		c.remember(stream, res.Revision, last)
	}
	return res, err
}

// chain returns events linked from revision first on, after the event
// whose hash is prev, and the last one's hash.
func chain(stream string, first uint64, prev string, events []eventstore.EventData) ([]eventstore.EventData, string, error) {
	h := hashers.Get().(*hasher)
	defer hashers.Put(h)
	linked := make([]eventstore.EventData, len(events))
	for i, e := range events {
		rec := eventstore.RecordedEvent{ID: e.ID, Type: e.Type, Stream: stream, Revision: first + uint64(i), Data: e.Data, Metadata: e.Metadata}
		sum, rest, stated, err := h.digest(&rec, prev)
		if err == nil && stated.mentioned {
			err = errors.New("metadata already states hash or prev_hash")
		}
		if err != nil {
			return nil, "", fmt.Errorf("%w: event %s: %v", eventstore.ErrInvalidAppend, e.ID, err)
		}
		e.Metadata = linkedMetadata(rest, prev, sum)
		linked[i], prev = e, sum
	}
	return linked, prev, nil
}

// hashers keep the appends' hashers, whose buffers and parser stacks
// would otherwise grow afresh for every append: 12% of the bytes serve
// allocated under load.
var hashers = sync.Pool{New: func() any { return new(hasher) }}

// predecessor returns the revision of the first event appended under
// expected and the hash of the event before it.
func (c *Chained) predecessor(ctx context.Context, stream string, expected eventstore.ExpectedRevision) (uint64, string, error) {
	if expected.IsNoStream() {
		return 0, "", nil
	}
	rev, ok := expected.Revision()
	if !ok {
		return 0, "", fmt.Errorf("%w: %s: a chained append names its predecessor (NoStream or an exact revision), not %s", eventstore.ErrInvalidAppend, stream, expected)
	}
	hash, err := c.hashAt(ctx, stream, rev)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		// No event at rev: the stream is behind the expectation, which is
		// the store's conflict (a retry would find its predecessor there).
		return 0, "", c.conflict(ctx, stream, expected)
	}
	return rev + 1, hash, err
}

// conflict is the ConflictError of an append under expected to a stream
// that has no event at the expected revision.
func (c *Chained) conflict(ctx context.Context, stream string, expected eventstore.ExpectedRevision) error {
	ce := &eventstore.ConflictError{Stream: stream, Expected: expected}
	recs, err := c.Store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
	switch {
	case errors.Is(err, eventstore.ErrStreamNotFound):
	case err != nil:
		return err
	case len(recs) > 0:
		ce.Actual, ce.Exists = recs[0].Revision, true
	}
	return ce
}

// hashAt returns the hash of stream's event at revision rev.
func (c *Chained) hashAt(ctx context.Context, stream string, rev uint64) (string, error) {
	c.mu.Lock()
	h, ok := c.heads[stream]
	c.mu.Unlock()
	if ok && h.revision == rev {
		return h.hash, nil
	}
	return HashAt(ctx, c.Store, stream, rev)
}

func (c *Chained) remember(stream string, rev uint64, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.heads) >= rememberedHeads {
		clear(c.heads)
	}
	c.heads[stream] = head{rev, hash}
}

// HashAt returns the hash of stream's event at revision rev: the one its
// metadata states or, for an event recorded before the log was hashed,
// the one computed along its stream from the first event.
func HashAt(ctx context.Context, store eventstore.Store, stream string, rev uint64) (string, error) {
	recs, err := store.ReadStream(ctx, stream, eventstore.Backwards, rev, 1)
	if err != nil {
		return "", fmt.Errorf("hash of %s at revision %d: %w", stream, rev, err)
	}
	if len(recs) == 0 || recs[0].Revision != rev {
		return "", fmt.Errorf("hash of %s at revision %d: %w", stream, rev, eventstore.ErrStreamNotFound)
	}
	_, stated, err := splitMetadata(recs[0].Metadata)
	if err != nil {
		return "", fmt.Errorf("hash of %s at revision %d: %w", stream, rev, err)
	}
	if stated.has {
		return stated.hash, nil
	}
	return unhashedChain(ctx, store, stream, rev)
}

// unhashedChain computes the hashes of stream's events up to revision
// upTo, which were recorded before the log was hashed, as if each had
// been linked to its predecessor when appended.
func unhashedChain(ctx context.Context, store eventstore.Store, stream string, upTo uint64) (string, error) {
	var h hasher
	prev := ""
	for from := uint64(0); from <= upTo; {
		recs, err := store.ReadStream(ctx, stream, eventstore.Forwards, from, 1024)
		if err != nil {
			return "", fmt.Errorf("hash of %s: %w", stream, err)
		}
		for i := range recs {
			if recs[i].Revision > upTo {
				break
			}
			sum, stated, err := h.sum(&recs[i], prev)
			if err != nil {
				return "", fmt.Errorf("hash of %s at revision %d: %w", stream, recs[i].Revision, err)
			}
			if stated.has {
				sum = stated.hash
			}
			prev = sum
		}
		if len(recs) < 1024 {
			break
		}
		from = recs[len(recs)-1].Revision + 1
	}
	return prev, nil
}
