package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/robotlabor/billing/eventstore"
)

// testRacingWriters: writers race for each next revision of one stream;
// exactly one wins each, the losers get ErrConflict, and the stream holds
// exactly the winners' events in order.
func testRacingWriters(t *testing.T, s eventstore.Store) {
	const writers, rounds = 8, 25
	stream := newStream("race")
	ctx := ctxFor(t)
	type win struct {
		rev uint64
		id  string
	}
	wins := make(chan win, writers*rounds)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				exp := eventstore.NoStream
				last, err := s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1)
				switch {
				case errors.Is(err, eventstore.ErrStreamNotFound):
				case err != nil:
					t.Errorf("read head: %v", err)
					return
				case last[0].Revision+1 >= rounds:
					return
				default:
					exp = eventstore.Exact(last[0].Revision)
				}
				ev := events(1, "raced")
				res, err := s.Append(ctx, stream, exp, ev...)
				if errors.Is(err, eventstore.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("append at %s: %v", exp, err)
					return
				}
				wins <- win{res.Revision, ev[0].ID.String()}
			}
		}()
	}
	wg.Wait()
	close(wins)
	byRev := map[uint64]string{}
	for w := range wins {
		if prev, dup := byRev[w.rev]; dup {
			t.Fatalf("revision %d won twice: %s and %s", w.rev, prev, w.id)
		}
		byRev[w.rev] = w.id
	}
	got := readStream(t, s, stream)
	if len(got) != rounds || len(byRev) != rounds {
		t.Fatalf("stream has %d events and %d winners, want %d of each", len(got), len(byRev), rounds)
	}
	for _, e := range got {
		if byRev[e.Revision] != e.ID.String() {
			t.Fatalf("revision %d holds %s, but %s was told it won", e.Revision, e.ID, byRev[e.Revision])
		}
	}
}

// testReadAllOrder: events appended concurrently to many streams come back
// from ReadAll once each, in strictly increasing positions, with every
// stream's events in revision order, whatever the page size.
func testReadAllOrder(t *testing.T, s eventstore.Store) {
	const streams, perStream = 12, 10
	from := head(t, s)
	ctx := ctxFor(t)
	names := make(map[string]bool, streams)
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		name := newStream("all")
		names[name] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < perStream; r++ {
				exp := eventstore.NoStream
				if r > 0 {
					exp = eventstore.Exact(uint64(r - 1))
				}
				if _, err := s.Append(ctx, name, exp, events(1, "e")...); err != nil {
					t.Errorf("append %s: %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, page := range []int{1, 7, 1000} {
		nextRev := map[string]uint64{}
		pos, n := from, 0
		for {
			evs, err := s.ReadAll(ctx, pos, page)
			if err != nil {
				t.Fatalf("read all: %v", err)
			}
			if len(evs) == 0 {
				break
			}
			if len(evs) > page {
				t.Fatalf("ReadAll returned %d events, max was %d", len(evs), page)
			}
			for _, e := range evs {
				if e.Position <= pos {
					t.Fatalf("page %d: position %d after %d", page, e.Position, pos)
				}
				pos = e.Position
				if !names[e.Stream] {
					continue
				}
				if e.Revision != nextRev[e.Stream] {
					t.Fatalf("page %d: %s revision %d, want %d", page, e.Stream, e.Revision, nextRev[e.Stream])
				}
				nextRev[e.Stream]++
				n++
			}
		}
		if n != streams*perStream {
			t.Fatalf("page %d: read %d of this test's events, want %d", page, n, streams*perStream)
		}
	}
}

func testManyStreams(t *testing.T, s eventstore.Store) {
	const streams = 300
	ctx := ctxFor(t)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	written := make([][]eventstore.EventData, streams)
	names := make([]string, streams)
	for i := range names {
		names[i] = newStream("many")
		written[i] = events(3, "e")
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.Append(ctx, names[i], eventstore.NoStream, written[i]...); err != nil {
				t.Errorf("append %s: %v", names[i], err)
			}
		}()
	}
	wg.Wait()
	for i, name := range names {
		got := readStream(t, s, name)
		if len(got) != 3 {
			t.Fatalf("%s has %d events, want 3", name, len(got))
		}
		for r := range got {
			sameEvent(t, got[r], written[i][r], name, uint64(r))
		}
	}
}

// testHead: Head is the position of the last event appended, and nothing
// follows it.
func testHead(t *testing.T, s eventstore.Store) {
	res := mustAppend(t, s, newStream("head"), eventstore.NoStream, events(3, "e")...)
	got := head(t, s)
	if got < res.Position {
		t.Fatalf("Head = %d, before the last append at %d", got, res.Position)
	}
	evs, err := s.ReadAll(ctxFor(t), got, 10)
	if err != nil || len(evs) != 0 {
		t.Fatalf("ReadAll after Head returned %d events, %v; want none", len(evs), err)
	}
}

// testReadEvent: every event is found at the position reads report for
// it, and nothing at Start.
func testReadEvent(t *testing.T, s eventstore.Store) {
	ctx := ctxFor(t)
	stream := newStream("at")
	evs := events(3, "e")
	mustAppend(t, s, stream, eventstore.NoStream, evs...)
	for i, rec := range readStream(t, s, stream) {
		got, err := s.ReadEvent(ctx, rec.Position)
		if err != nil {
			t.Fatalf("ReadEvent(%d): %v", rec.Position, err)
		}
		sameEvent(t, got, evs[i], stream, uint64(i))
		if got.Position != rec.Position {
			t.Fatalf("ReadEvent(%d) returned the event at %d", rec.Position, got.Position)
		}
	}
	if _, err := s.ReadEvent(ctx, eventstore.Start); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Fatalf("ReadEvent(Start): got %v, want ErrEventNotFound", err)
	}
}
