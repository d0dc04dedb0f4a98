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
// many. An append under Any or StreamExists is made under the exact
// revision read just before it (and tried again should a writer slip in).
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

// maxAnyAttempts bounds the retries of an Any append that lost a race.
const maxAnyAttempts = 10

// Append implements eventstore.Store.
func (c *Chained) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	// Refused before any read, as every backend refuses them.
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	for attempt := 1; ; attempt++ {
		exact, first, prev, err := c.predecessor(ctx, stream, expected)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		linked, last, err := chain(stream, first, prev, events)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		res, err := c.Store.Append(ctx, stream, exact, linked...)
		if errors.Is(err, eventstore.ErrConflict) && exact != expected && attempt < maxAnyAttempts {
			continue
		}
		if err == nil && res.Written {
			// Not after an idempotent repeat: the events stored are the
			// first append's, whose metadata, and so hashes, may differ.
			c.remember(stream, res.Revision, last)
		}
		return res, err
	}
}

// chain returns events linked from revision first on, after the event
// whose hash is prev, and the last one's hash.
func chain(stream string, first uint64, prev string, events []eventstore.EventData) ([]eventstore.EventData, string, error) {
	var h hasher
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

// predecessor returns the exact condition to append under, the revision
// of the first event appended and the hash of the event before it.
func (c *Chained) predecessor(ctx context.Context, stream string, expected eventstore.ExpectedRevision) (eventstore.ExpectedRevision, uint64, string, error) {
	if expected.IsNoStream() {
		return expected, 0, "", nil
	}
	if rev, ok := expected.Revision(); ok {
		hash, err := c.hashAt(ctx, stream, rev)
		return expected, rev + 1, hash, err
	}
	// Any or StreamExists: chain after the head as it is now.
	recs, err := c.Store.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		if expected.IsStreamExists() {
			return expected, 0, "", nil // the store refuses it
		}
		return eventstore.NoStream, 0, "", nil
	}
	if err != nil {
		return expected, 0, "", err
	}
	rev := recs[0].Revision
	hash, err := c.hashAt(ctx, stream, rev)
	return eventstore.Exact(rev), rev + 1, hash, err
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
