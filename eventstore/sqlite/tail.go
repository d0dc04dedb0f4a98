package sqlite

import (
	"sort"
	"sync"

	"github.com/robotlabor/billing/eventstore"
)

// tailSize is how many of its latest commits' events a store keeps in
// memory for its subscriptions, several times what a subscriber falls
// behind under load; tailBytes bounds their data and metadata, should the
// events be large.
const (
	tailSize  = 8192
	tailBytes = 16 << 20
)

// tail is the events this process committed last, in log order, so that a
// subscription that keeps up reads what was just committed from memory
// instead of reading it back from the file: under load, three subscribers
// (projector, reconciler, relay) each reading every commit back was ~7% of
// the service's CPU.
//
// Positions are dense: position is the table's rowid, never deleted, so
// the event after position p is at p+1. The tail serves a read after p
// only from an entry at p+1 and only as far as the entries stay
// consecutive; another process's commits leave a gap, and anything not
// in the tail is read from the file, as before.
type tail struct {
	mu       sync.RWMutex
	ring     []eventstore.RecordedEvent // the n entries before head, oldest first
	head     int                        // where the next event goes
	n        int                        // how many entries are held
	bytes    int                        // their data and metadata
	maxBytes int
}

func newTail(size, maxBytes int) *tail {
	return &tail{ring: make([]eventstore.RecordedEvent, size), maxBytes: maxBytes}
}

// add records a commit's events, as the file holds them; they must follow
// the events added before in log order. The oldest are forgotten to keep
// within the tail's size and bytes.
func (t *tail) add(evs []eventstore.RecordedEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range evs {
		if t.n == len(t.ring) {
			t.dropOldest()
		}
		t.ring[t.head] = e
		t.head = (t.head + 1) % len(t.ring)
		t.n++
		t.bytes += size(e)
		for t.bytes > t.maxBytes {
			t.dropOldest()
		}
	}
}

func (t *tail) dropOldest() {
	i := (t.head - t.n + len(t.ring)) % len(t.ring)
	t.bytes -= size(t.ring[i])
	t.ring[i] = eventstore.RecordedEvent{}
	t.n--
}

func size(e eventstore.RecordedEvent) int { return len(e.Data) + len(e.Metadata) }

// after returns up to max events from position from+1 on, as long as the
// tail holds them consecutively, and nil when it does not hold from+1.
// Each event's bytes are the caller's own.
func (t *tail) after(from eventstore.Position, max int) []eventstore.RecordedEvent {
	t.mu.RLock()
	defer t.mu.RUnlock()
	oldest := (t.head - t.n + len(t.ring)) % len(t.ring)
	at := func(i int) *eventstore.RecordedEvent { return &t.ring[(oldest+i)%len(t.ring)] }
	// Positions increase along the ring: find from+1.
	i := sort.Search(t.n, func(i int) bool { return at(i).Position > from })
	if i == t.n || at(i).Position != from+1 || max < 1 {
		return nil
	}
	n, bytes := 1, size(*at(i))
	for j := i + 1; j < t.n && n < max && at(j).Position == at(j-1).Position+1; j++ {
		n++
		bytes += size(*at(j))
	}
	out := make([]eventstore.RecordedEvent, n)
	for k := range out {
		out[k] = *at(i + k)
	}
	// One copy of the bytes for the whole batch: subscribers own what
	// they are given, as from a read.
	buf := make([]byte, 0, bytes)
	for k := range out {
		out[k].Data, buf = carve(buf, out[k].Data)
		out[k].Metadata, buf = carve(buf, out[k].Metadata)
	}
	return out
}

// endsAt reports whether the newest event the tail holds is at position p.
func (t *tail) endsAt(p eventstore.Position) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n > 0 && t.ring[(t.head-1+len(t.ring))%len(t.ring)].Position == p
}

// carve copies b to the end of buf and returns the copy, capped so that
// appending to it cannot reach the next one, and buf grown by it. nil
// stays nil.
func carve(buf, b []byte) ([]byte, []byte) {
	if b == nil {
		return nil, buf
	}
	start := len(buf)
	buf = append(buf, b...)
	return buf[start:len(buf):len(buf)], buf
}

// recorded is an appended event as the file holds it and a read returns
// it, with the data and metadata copied: the caller's buffers stay its own.
func recorded(stream string, rev uint64, pos int64, e eventstore.EventData, stamp int64) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID: e.ID, Type: e.Type, Stream: stream, Revision: rev,
		Position: eventstore.Position(pos), RecordedAt: stampTime(stamp),
		Data: asRead(e.Data), Metadata: asRead(e.Metadata),
	}
}

// asRead is a copy of b as a read returns the column: nil when empty, as
// the driver scans an empty blob (or NULL).
func asRead(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
