package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/eventstore/storetest"
)

func open(t testing.TB, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "events.db")
	}
	s, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store { return open(t, sqlite.Config{}) })
}

func event(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{"k":"v"}`)}
}

func TestEventIDIsUniqueWithinItsStream(t *testing.T) {
	s := open(t, sqlite.Config{})
	ctx := context.Background()
	ev := event("e")
	if _, err := s.Append(ctx, "a", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "a", eventstore.Exact(0), event("e")); err != nil {
		t.Fatal(err)
	}
	// At the head, the old id is neither a retry nor a new event.
	_, err := s.Append(ctx, "a", eventstore.Exact(1), ev)
	if !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Fatalf("an id already in the stream appended again at its head: got %v, want ErrInvalidAppend", err)
	}
	if evs, _ := s.ReadStream(ctx, "a", eventstore.Forwards, 0, 10); len(evs) != 2 {
		t.Fatalf("stream has %d events, want 2", len(evs))
	}
}

// TestAnotherWritersAppendIsSeen: a writer that created a stream, and so
// knows its head, still refuses an append expecting that head once
// another writer of the same file appended after it, and takes the
// appends that expect the new head.
func TestAnotherWritersAppendIsSeen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	a, b := open(t, sqlite.Config{Path: path}), open(t, sqlite.Config{Path: path})
	ctx := context.Background()
	if _, err := a.Append(ctx, "s", eventstore.NoStream, event("placed")); err != nil {
		t.Fatal(err)
	}
	paid := event("paid")
	if _, err := b.Append(ctx, "s", eventstore.Exact(0), paid); err != nil {
		t.Fatal(err)
	}

	_, err := a.Append(ctx, "s", eventstore.Exact(0), event("failed"))
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) || ce.Actual != 1 {
		t.Fatalf("append expecting the head the other writer moved: %v, want a conflict at revision 1", err)
	}
	for i, s := range []*sqlite.Store{a, b, a} {
		res, err := s.Append(ctx, "s", eventstore.Exact(uint64(i+1)), event("refunded"))
		if err != nil || res.Revision != uint64(i+2) {
			t.Fatalf("append %d expecting revision %d: %+v, %v", i, i+1, res, err)
		}
	}
	// The other writer's event is in the stream, at the head or not.
	if _, err := a.Append(ctx, "s", eventstore.Exact(4), paid); !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Fatalf("an id the other writer appended, appended again at the head: %v, want ErrInvalidAppend", err)
	}
	if evs, _ := a.ReadStream(ctx, "s", eventstore.Forwards, 0, 10); len(evs) != 5 {
		t.Fatalf("stream has %d events, want 5", len(evs))
	}
}

// TestAppendSaysWhoWrote: the append that writes events says so, on every
// path (a new stream, one that exists, any revision); its retries do not.
// PlaceOrder relies on it to skip reading back the order it just placed.
func TestAppendSaysWhoWrote(t *testing.T) {
	s := open(t, sqlite.Config{})
	ctx := context.Background()
	for _, step := range []struct {
		expected eventstore.ExpectedRevision
		ev       eventstore.EventData
	}{
		{eventstore.NoStream, event("a")},
		{eventstore.Exact(0), event("b")},
		{eventstore.Any, event("c")},
	} {
		res, err := s.Append(ctx, "w", step.expected, step.ev)
		if err != nil || !res.Written {
			t.Fatalf("append %s: %+v, %v; want written", step.ev.Type, res, err)
		}
		again, err := s.Append(ctx, "w", step.expected, step.ev)
		if err != nil || again.Written || again.Position != res.Position {
			t.Fatalf("retry of %s: %+v, %v; want the first position %d, not written", step.ev.Type, again, err, res.Position)
		}
	}
}

// TestStorageErrorFailsOnlyItsAppend: an append the database fails (here a
// trigger stands in for a full disk or an I/O error) gets the error, alone
// or in a batch, and the store goes on appending.
func TestStorageErrorFailsOnlyItsAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := open(t, sqlite.Config{Path: path})
	ctx := context.Background()
	failInserts(t, path, "boom")
	if _, err := s.Append(ctx, "boom", eventstore.NoStream, event("e")); err == nil {
		t.Fatal("an append the database failed succeeded")
	}
	if _, err := s.Append(ctx, "fine", eventstore.NoStream, event("e")); err != nil {
		t.Fatalf("the next append: %v", err)
	}
}

// A stream whose first append the database failed is read as it was
// appended later, never through what the failed transaction numbered it:
// the number went to the stream begun next.
func TestFailedAppendLeavesNoNumberBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := open(t, sqlite.Config{Path: path})
	ctx := context.Background()
	failInserts(t, path, "boom")
	if _, err := s.Append(ctx, "boom", eventstore.NoStream, event("lost")); err == nil {
		t.Fatal("an append the database failed succeeded")
	}
	if _, err := s.ReadStream(ctx, "boom", eventstore.Forwards, 0, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read the failed stream: %v", err)
	}
	if _, err := s.Append(ctx, "other", eventstore.NoStream, event("other")); err != nil {
		t.Fatal(err)
	}
	if evs, err := s.ReadStream(ctx, "boom", eventstore.Backwards, eventstore.End, 10); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("read the failed stream once another began: %v, %v", evs, err)
	}
	execAt(t, path, `DROP TRIGGER fail_boom`)
	if _, err := s.Append(ctx, "boom", eventstore.NoStream, event("kept")); err != nil {
		t.Fatal(err)
	}
	for stream, typ := range map[string]string{"boom": "kept", "other": "other"} {
		evs, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
		if err != nil || len(evs) != 1 || evs[0].Type != typ || evs[0].Stream != stream {
			t.Fatalf("read %s: %v, %v; want its one event %s", stream, evs, err, typ)
		}
	}
}

// failInserts makes the database at path refuse every insert into stream,
// as a storage error would.
func failInserts(t *testing.T, path, stream string) {
	t.Helper()
	execAt(t, path, `CREATE TRIGGER fail_`+stream+` BEFORE INSERT ON events WHEN NEW.stream = '`+stream+`'
		BEGIN SELECT RAISE(ABORT, 'storage error'); END`)
}

// execAt runs q on the database at path, beside the store's connections.
func execAt(t *testing.T, path, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsTheLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ev := event("e")
	want, err := s.Append(context.Background(), "s", eventstore.NoStream, ev)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Append(context.Background(), "s", eventstore.Any, event("e")); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after Close: %v, want ErrClosed", err)
	}

	s = open(t, sqlite.Config{Path: path})
	got, err := s.Append(context.Background(), "s", eventstore.NoStream, ev)
	if err != nil || got.Position != want.Position || got.Revision != want.Revision || got.Written {
		t.Fatalf("retry after reopen = %+v, %v; want %+v, not written", got, err, want)
	}
	next, err := s.Append(context.Background(), "s", eventstore.Exact(0), event("e"))
	if err != nil || next.Revision != 1 || next.Position <= want.Position {
		t.Fatalf("append after reopen = %+v, %v", next, err)
	}
}

// TestReaderBesideWriter is what `billing events export` does while `serve`
// runs: a read-only store on the same file sees the writer's appends, and
// its subscriptions pick them up by polling.
func TestReaderBesideWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	w := open(t, sqlite.Config{Path: path})
	r := open(t, sqlite.Config{Path: path, ReadOnly: true})
	ctx := context.Background()
	ev := event("e")
	if _, err := w.Append(ctx, "s", eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadAll(ctx, eventstore.Start, 10)
	if err != nil || len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("reader read %d events, %v; want the one appended", len(got), err)
	}
	if _, err := r.Append(ctx, "s", eventstore.Any, event("e")); err == nil {
		t.Fatal("append through a read-only store succeeded")
	}
	sub, err := r.SubscribeAll(ctx, got[0].Position)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev2 := event("e")
	if _, err := w.Append(ctx, "s", eventstore.Exact(0), ev2); err != nil {
		t.Fatal(err)
	}
	evs, err := sub.Next(ctx)
	if err != nil || len(evs) != 1 || evs[0].ID != ev2.ID {
		t.Fatalf("reader's subscription got %d events, %v; want the writer's next append", len(evs), err)
	}
}

func TestReadOnlyNeedsAnExistingStore(t *testing.T) {
	_, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "none.db"), ReadOnly: true})
	if err == nil {
		t.Fatal("read-only open of a missing store succeeded")
	}
}

// A read asking for as many events as there can be gets them all,
// whichever way it reads.
func TestReadWithoutALimitReadsTheWholeStream(t *testing.T) {
	s := open(t, sqlite.Config{})
	ctx := context.Background()
	if _, err := s.Append(ctx, "a", eventstore.NoStream, event("e0"), event("e1"), event("e2")); err != nil {
		t.Fatal(err)
	}
	for _, from := range []uint64{0, 1, 2} {
		evs, err := s.ReadStream(ctx, "a", eventstore.Forwards, from, math.MaxInt)
		if err != nil || len(evs) != 3-int(from) {
			t.Fatalf("forwards from %d, max MaxInt: got %d events, %v; want %d", from, len(evs), err, 3-from)
		}
	}
	if evs, err := s.ReadStream(ctx, "a", eventstore.Backwards, eventstore.End, math.MaxInt); err != nil || len(evs) != 3 {
		t.Fatalf("backwards, max MaxInt: got %d events, %v; want 3", len(evs), err)
	}
}

// Reads that stop at their maximum before the rows end, their context
// canceled while they run, each return: none holds on to its connection.
// Scanning into sql.RawBytes, a read that asked for the rows' error
// before closing them could wait forever on database/sql's own lock
// (golang/go#64498): six runs of 100,000 such reads all stuck, after 790
// to 55,135 of them.
func TestCanceledReadsStoppedAtTheirMaximumReturn(t *testing.T) {
	s := open(t, sqlite.Config{})
	if _, err := s.Append(context.Background(), "a", eventstore.NoStream, event("e0"), event("e1"), event("e2")); err != nil {
		t.Fatal(err)
	}
	reads := 100_000
	if raceDetector {
		reads = 5_000
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range reads {
			ctx, cancel := context.WithCancel(context.Background())
			go cancel() // races with the read
			switch i % 3 {
			case 0:
				s.ReadStream(ctx, "a", eventstore.Forwards, 0, 1) //nolint:errcheck // only returning matters
			case 1:
				s.ReadAll(ctx, eventstore.Start, 2) //nolint:errcheck // only returning matters
			default:
				s.ReadEvent(ctx, 1) //nolint:errcheck // only returning matters
			}
			cancel()
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a liveness bound, far above the seconds the reads take
		buf := make([]byte, 1<<20)
		t.Fatalf("reads still running after 2 minutes: stuck?\n%s", buf[:runtime.Stack(buf, true)])
	}
}
