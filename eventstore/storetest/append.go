package storetest

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

func testReadStream(t *testing.T, s eventstore.Store) {
	stream := newStream("order")
	evs := events(5, "order.placed")
	res := mustAppend(t, s, stream, eventstore.NoStream, evs[:3]...)
	if res.Revision != 2 {
		t.Fatalf("revision after 3 events = %d, want 2", res.Revision)
	}
	res2 := mustAppend(t, s, stream, eventstore.Exact(2), evs[3:]...)
	if res2.Revision != 4 || res2.Position <= res.Position {
		t.Fatalf("second append = %+v after %+v, want revision 4 at a later position", res2, res)
	}

	got := readStream(t, s, stream)
	if len(got) != 5 {
		t.Fatalf("read %d events, want 5", len(got))
	}
	for i := range got {
		sameEvent(t, got[i], evs[i], stream, uint64(i))
		if i > 0 && got[i].Position <= got[i-1].Position {
			t.Fatalf("positions not increasing within stream: %d then %d", got[i-1].Position, got[i].Position)
		}
	}
	if got[4].Position != res2.Position {
		t.Fatalf("last event at position %d, append reported %d", got[4].Position, res2.Position)
	}

	ctx := ctxFor(t)
	back, err := s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 2)
	if err != nil || len(back) != 2 || back[0].Revision != 4 || back[1].Revision != 3 {
		t.Fatalf("backwards from end, 2: got %v %v, want revisions 4,3", revisions(back), err)
	}
	back, err = s.ReadStream(ctx, stream, eventstore.Backwards, 2, 10)
	if err != nil || len(back) != 3 || back[0].Revision != 2 || back[2].Revision != 0 {
		t.Fatalf("backwards from 2: got %v %v, want revisions 2,1,0", revisions(back), err)
	}
	mid, err := s.ReadStream(ctx, stream, eventstore.Forwards, 3, 1)
	if err != nil || len(mid) != 1 || mid[0].ID != evs[3].ID {
		t.Fatalf("forwards from 3, 1: got %v %v", revisions(mid), err)
	}
	for _, from := range []uint64{5, 6, 100} {
		past, err := s.ReadStream(ctx, stream, eventstore.Forwards, from, 10)
		if err != nil || len(past) != 0 {
			t.Fatalf("forwards from %d, past the end: got %v %v, want no events and no error", from, revisions(past), err)
		}
	}
	last, err := s.ReadStream(ctx, stream, eventstore.Forwards, 4, 10)
	if err != nil || len(last) != 1 || last[0].ID != evs[4].ID {
		t.Fatalf("forwards from the last revision: got %v %v, want revision 4", revisions(last), err)
	}
}

func revisions(evs []eventstore.RecordedEvent) []uint64 {
	revs := make([]uint64, len(evs))
	for i, e := range evs {
		revs[i] = e.Revision
	}
	return revs
}

func testReadMissingStream(t *testing.T, s eventstore.Store) {
	for _, dir := range []eventstore.Direction{eventstore.Forwards, eventstore.Backwards} {
		for _, from := range []uint64{0, 1, 7, eventstore.End} {
			_, err := s.ReadStream(ctxFor(t), newStream("missing"), dir, from, 10)
			if !errors.Is(err, eventstore.ErrStreamNotFound) {
				t.Fatalf("reading a missing stream (dir %d, from %d): got %v, want ErrStreamNotFound", dir, from, err)
			}
		}
	}
}

func testExpectedRevision(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	stream := newStream("wallet")

	_, err := s.Append(ctx, stream, eventstore.StreamExists, events(1, "e")...)
	wantConflict(t, err, "StreamExists on a missing stream")
	_, err = s.Append(ctx, stream, eventstore.Exact(0), events(1, "e")...)
	wantConflict(t, err, "Exact(0) on a missing stream")

	mustAppend(t, s, stream, eventstore.NoStream, events(1, "e")...)
	_, err = s.Append(ctx, stream, eventstore.NoStream, events(1, "e")...)
	wantConflict(t, err, "NoStream on an existing stream")
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) || ce.Stream != stream || !ce.Exists || ce.Actual != 0 {
		t.Fatalf("conflict details = %+v, want stream %s at revision 0", ce, stream)
	}
	_, err = s.Append(ctx, stream, eventstore.Exact(5), events(1, "e")...)
	wantConflict(t, err, "Exact(5) on a stream at 0")

	if res := mustAppend(t, s, stream, eventstore.Exact(0), events(1, "e")...); res.Revision != 1 {
		t.Fatalf("Exact(0) append gave revision %d, want 1", res.Revision)
	}
	if res := mustAppend(t, s, stream, eventstore.StreamExists, events(1, "e")...); res.Revision != 2 {
		t.Fatalf("StreamExists append gave revision %d, want 2", res.Revision)
	}
	if res := mustAppend(t, s, stream, eventstore.Any, events(2, "e")...); res.Revision != 4 {
		t.Fatalf("Any append gave revision %d, want 4", res.Revision)
	}
	other := newStream("wallet")
	if res := mustAppend(t, s, other, eventstore.Any, events(1, "e")...); res.Revision != 0 {
		t.Fatalf("Any on a new stream gave revision %d, want 0", res.Revision)
	}
	if got := len(readStream(t, s, stream)); got != 5 {
		t.Fatalf("stream has %d events after refused appends, want 5", got)
	}
}

func testInvalidAppends(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	stream := newStream("bad")
	dup := events(1, "e")[0]
	cases := map[string][]eventstore.EventData{
		"no events":       nil,
		"nil id":          {{ID: uuid.Nil, Type: "e", Data: []byte(`{}`)}},
		"empty type":      {{ID: uuid.New(), Data: []byte(`{}`)}},
		"id twice in one": {dup, dup},
	}
	for name, evs := range cases {
		if _, err := s.Append(ctx, stream, eventstore.Any, evs...); !errors.Is(err, eventstore.ErrInvalidAppend) {
			t.Errorf("%s: got %v, want ErrInvalidAppend", name, err)
		}
	}
	if _, err := s.Append(ctx, "", eventstore.Any, events(1, "e")...); !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Errorf("empty stream name: got %v, want ErrInvalidAppend", err)
	}
	if _, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Errorf("after invalid appends the stream exists: %v", err)
	}
}

// testIdempotentReappend: appending the same event ids again at the
// revision they were first written succeeds with the first result and
// writes nothing (and never says it wrote them): the rule that makes a
// retried command safe.
func testIdempotentReappend(t *testing.T, s eventstore.Store) {
	stream := newStream("order")
	first := events(2, "order.placed")
	want := mustAppend(t, s, stream, eventstore.NoStream, first...)
	if got := mustAppend(t, s, stream, eventstore.NoStream, first...); !sameResult(got, want) || got.Written {
		t.Fatalf("NoStream retry = %+v, want the first result %+v, not written", got, want)
	}
	second := events(3, "order.paid")
	want2 := mustAppend(t, s, stream, eventstore.Exact(1), second...)
	mustAppend(t, s, stream, eventstore.Exact(4), events(1, "order.refunded")...)
	if got := mustAppend(t, s, stream, eventstore.Exact(1), second...); !sameResult(got, want2) || got.Written {
		t.Fatalf("Exact(1) retry after later appends = %+v, want %+v, not written", got, want2)
	}
	if got := readStream(t, s, stream); len(got) != 6 {
		t.Fatalf("stream has %d events after retries, want 6", len(got))
	}
}

// sameResult: the same revision and position, whoever wrote them.
func sameResult(a, b eventstore.AppendResult) bool {
	return a.Revision == b.Revision && a.Position == b.Position
}

func testReappendElsewhere(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	stream := newStream("order")
	evs := events(1, "order.placed")
	mustAppend(t, s, stream, eventstore.NoStream, evs...)
	mustAppend(t, s, stream, eventstore.Exact(0), events(1, "order.paid")...)
	// The same id at another expected revision is not a retry.
	_, err := s.Append(ctx, stream, eventstore.Exact(0), evs...)
	wantConflict(t, err, "known id at a different expected revision")
	// A retry that adds a new event is not the same append either.
	_, err = s.Append(ctx, stream, eventstore.NoStream, append(evs, events(1, "x")...)...)
	wantConflict(t, err, "known id plus a new one")
	if got := readStream(t, s, stream); len(got) != 2 {
		t.Fatalf("stream has %d events, want 2", len(got))
	}
}

func testLargeBodies(t *testing.T, s eventstore.Store) {
	stream := newStream("large")
	// Just under 1 MiB with its metadata: EventStoreDB refuses appends over
	// its default maximum append size of 1 MiB.
	big := make([]byte, 1<<20-64<<10)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	ev := eventstore.EventData{ID: uuid.New(), Type: "large", Data: []byte(`{"blob":"` + string(big) + `"}`), Metadata: []byte(`{"pad":"` + string(big[:4096]) + `"}`)}
	mustAppend(t, s, stream, eventstore.NoStream, ev)
	got := readStream(t, s, stream)
	if len(got) != 1 {
		t.Fatalf("read %d events, want 1", len(got))
	}
	sameEvent(t, got[0], ev, stream, 0)
}
