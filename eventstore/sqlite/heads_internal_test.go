package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

type pastReq struct {
	stream   string
	expected eventstore.ExpectedRevision
	events   []eventstore.EventData
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func failSomeInserts(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// boom fails every insert; half fails its third revision on (a storage
	// error in the middle of a multi-event append, after the first insert).
	if _, err := db.Exec(`CREATE TRIGGER fail_boom BEFORE INSERT ON events WHEN NEW.stream = 'boom' OR (NEW.stream = 'half' AND NEW.revision >= 3)
		BEGIN SELECT RAISE(ABORT, 'storage error'); END`); err != nil {
		t.Fatal(err)
	}
}

func replyKey(r appendReply) string {
	var ce *eventstore.ConflictError
	switch {
	case r.err == nil:
		return fmt.Sprintf("ok rev=%d pos=%d written=%v", r.res.Revision, r.res.Position, r.res.Written)
	case errors.As(r.err, &ce):
		return fmt.Sprintf("conflict actual=%d exists=%v", ce.Actual, ce.Exists)
	case errors.Is(r.err, eventstore.ErrInvalidAppend):
		return "invalid"
	default:
		return "error"
	}
}

// TestKeptHeadsDecideAsTheFullPath runs random batches (retries, ids the
// stream holds, several appends to one stream, storage errors) straight
// into the writers' commit, on two files each written by two stores: on
// one the kept heads are used, on the other they are dropped before each
// batch, so that every append takes the full path. Every reply and the
// final logs must agree.
func TestKeptHeadsDecideAsTheFullPath(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { headsDifferential(t, seed, 200) })
	}
}

// Two appends of one batch to a stream whose head is kept, both expecting
// that head: the first is written, the second refused, as on the full
// path.
func TestTwoAppendsExpectingTheKeptHeadInOneBatch(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := context.Background()
	if _, err := s.Append(ctx, "s", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "placed", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	reqs := make([]*appendReq, 2)
	for i := range reqs {
		reqs[i] = &appendReq{ctx: ctx, stream: "s", expected: eventstore.Exact(0),
			events: []eventstore.EventData{{ID: uuid.New(), Type: "paid", Data: []byte(`{}`)}}, reply: make(chan appendReply, 1)}
	}
	s.writer.commit(reqs)
	if got := replyKey(<-reqs[0].reply); got != "ok rev=1 pos=2 written=true" {
		t.Errorf("first append: %s, want written at revision 1", got)
	}
	if got := replyKey(<-reqs[1].reply); got != "conflict actual=1 exists=true" {
		t.Errorf("second append: %s, want a conflict at revision 1", got)
	}
	if res, err := s.Append(ctx, "s", eventstore.Exact(1), eventstore.EventData{ID: uuid.New(), Type: "refunded", Data: []byte(`{}`)}); err != nil || res.Revision != 2 {
		t.Fatalf("append expecting the new head: %+v, %v", res, err)
	}
}

func headsDifferential(t *testing.T, seed uint64, steps int) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "new.db"), filepath.Join(dir, "ref.db")
	newS := []*Store{openAt(t, p1), openAt(t, p1)}
	refS := []*Store{openAt(t, p2), openAt(t, p2)}
	failSomeInserts(t, p1)
	failSomeInserts(t, p2)
	rng := rand.New(rand.NewPCG(seed, seed*7))
	ctx := context.Background()
	streams := []string{"s0", "s1", "s2", "s3", "long", "boom", "half"}
	var past []pastReq
	ids := map[string][]uuid.UUID{} // per stream, from the file
	headOf := func(stream string) (uint64, bool) {
		evs, err := newS[0].ReadStream(ctx, stream, eventstore.Backwards, ^uint64(0), 1)
		if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(evs) == 0) {
			return 0, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].Revision, true
	}
	refreshIDs := func(stream string) {
		evs, err := newS[0].ReadStream(ctx, stream, eventstore.Forwards, 0, 10000)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			t.Fatal(err)
		}
		ids[stream] = ids[stream][:0]
		for _, e := range evs {
			ids[stream] = append(ids[stream], e.ID)
		}
	}
	newEvents := func(n int) []eventstore.EventData {
		evs := make([]eventstore.EventData, n)
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "t", Data: []byte(`{}`)}
		}
		return evs
	}
	for step := range steps {
		w := rng.IntN(3) % 2 // store 0 twice as often
		nreq := 1 + rng.IntN(6)
		var batch []pastReq
		for range nreq {
			stream := streams[rng.IntN(len(streams))]
			if rng.IntN(10) == 0 {
				stream = fmt.Sprintf("fresh%d", step)
			}
			head, exists := headOf(stream)
			var exp eventstore.ExpectedRevision
			switch r := rng.IntN(10); {
			case r < 5 && exists:
				exp = eventstore.Exact(head)
			case r < 5:
				exp = eventstore.NoStream
			case r == 5 && exists && head > 0:
				exp = eventstore.Exact(head - 1)
			case r == 6:
				exp = eventstore.Exact(head + 1)
			case r == 7:
				exp = eventstore.Any
			case r == 8:
				exp = eventstore.StreamExists
			default:
				exp = eventstore.NoStream
			}
			n := 1 + rng.IntN(3)
			if stream == "long" {
				n = 1 + rng.IntN(7)
			}
			evs := newEvents(n)
			switch r := rng.IntN(10); {
			case r < 2 && len(past) > 0: // a retry of a past append, as it was
				p := past[rng.IntN(len(past))]
				stream, exp, evs = p.stream, p.expected, p.events
			case r == 2 && len(past) > 0: // a retry expecting the current head
				p := past[rng.IntN(len(past))]
				stream, evs = p.stream, p.events
				if h, ok := headOf(stream); ok {
					exp = eventstore.Exact(h)
				}
			case r == 3: // an id the stream holds
				refreshIDs(stream)
				if k := len(ids[stream]); k > 0 {
					evs[rng.IntN(len(evs))].ID = ids[stream][rng.IntN(k)]
				}
			case r == 4 && len(batch) > 0: // the same as an earlier one of the batch
				p := batch[rng.IntN(len(batch))]
				stream, exp, evs = p.stream, p.expected, p.events
			case r == 5 && len(batch) > 0: // same stream and expectation, new events
				p := batch[rng.IntN(len(batch))]
				stream, exp = p.stream, p.expected
			case r == 6 && len(batch) > 0: // an id of an earlier request of the batch
				p := batch[rng.IntN(len(batch))]
				stream = p.stream
				evs[0].ID = p.events[rng.IntN(len(p.events))].ID
				if h, ok := headOf(stream); ok {
					exp = eventstore.Exact(h)
				}
			}
			if eventstore.ValidateAppend(stream, evs) != nil {
				continue
			}
			batch = append(batch, pastReq{stream, exp, evs})
		}
		if len(batch) == 0 {
			continue
		}
		run := func(s *Store, purge bool) []appendReply {
			reqs := make([]*appendReq, len(batch))
			for i, b := range batch {
				reqs[i] = &appendReq{ctx: ctx, stream: b.stream, expected: b.expected, events: b.events, reply: make(chan appendReply, 1)}
			}
			if purge {
				s.writer.heads.lru.Purge()
			}
			s.writer.commit(reqs)
			out := make([]appendReply, len(reqs))
			for i, r := range reqs {
				out[i] = <-r.reply
			}
			return out
		}
		got, want := run(newS[w], false), run(refS[w], true)
		for i := range batch {
			if g, wk := replyKey(got[i]), replyKey(want[i]); g != wk {
				t.Fatalf("seed %d step %d store %d req %d (%s, %s, %d events): kept heads %s (%v), full path %s (%v)",
					seed, step, w, i, batch[i].stream, batch[i].expected, len(batch[i].events), g, got[i].err, wk, want[i].err)
			}
		}
		past = append(past, batch...)
	}
	// The logs agree, revisions are contiguous, ids unique per stream.
	a, err := newS[1].ReadAll(ctx, eventstore.Start, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := refS[1].ReadAll(ctx, eventstore.Start, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("logs of %d and %d events", len(a), len(b))
	}
	next := map[string]uint64{}
	seen := map[string]map[uuid.UUID]bool{}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Stream != b[i].Stream || a[i].Revision != b[i].Revision || a[i].Position != b[i].Position {
			t.Fatalf("event %d: %+v vs %+v", i, a[i], b[i])
		}
		e := a[i]
		if e.Revision != next[e.Stream] {
			t.Fatalf("stream %s: revision %d after %d", e.Stream, e.Revision, next[e.Stream])
		}
		next[e.Stream]++
		if seen[e.Stream] == nil {
			seen[e.Stream] = map[uuid.UUID]bool{}
		}
		if seen[e.Stream][e.ID] {
			t.Fatalf("stream %s: id %s twice", e.Stream, e.ID)
		}
		seen[e.Stream][e.ID] = true
	}
}
