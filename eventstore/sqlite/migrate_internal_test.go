package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// at is an event's place in its stream.
type at struct {
	stream string
	rev    int
}

// interleaved are streams m (3 events), b (1) and x (2), begun in that
// order, their events interleaved in the log.
var interleaved = []at{{"m", 0}, {"b", 0}, {"m", 1}, {"x", 0}, {"m", 2}, {"x", 1}}

// writeSchemaOne makes a log of events as a binary from before streams
// were numbered wrote it.
func writeSchemaOne(t *testing.T, path string, events []at) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlitex.Migrate(ctx, db, "event store", migrations[:2]); err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		id := uuid.New()
		if _, err := db.Exec(`INSERT INTO events (stream, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			e.stream, e.rev, id[:], "t", fmt.Appendf(nil, `{"n":%d}`, i), []byte(`{}`), 1_000+i); err != nil {
			t.Fatal(err)
		}
	}
}

// readBack is everything a store gives back of the interleaved log: the
// whole log, and each stream forwards, backwards and from
// its second event.
func readBack(t *testing.T, s *Store) [][]eventstore.RecordedEvent {
	t.Helper()
	ctx := context.Background()
	all, err := s.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := [][]eventstore.RecordedEvent{all}
	for _, stream := range []string{"m", "b", "x"} {
		for _, read := range []struct {
			dir  eventstore.Direction
			from uint64
		}{{eventstore.Forwards, 0}, {eventstore.Backwards, 1 << 63}, {eventstore.Forwards, 1}, {eventstore.Forwards, 3}} {
			evs, err := s.ReadStream(ctx, stream, read.dir, read.from, 100)
			if err != nil {
				t.Fatalf("read %s from %d: %v", stream, read.from, err)
			}
			got = append(got, evs)
		}
	}
	if _, err := s.ReadStream(ctx, "d", eventstore.Forwards, 0, 100); !errors.Is(err, eventstore.ErrStreamNotFound) {
		t.Fatalf("a stream never begun: %v", err)
	}
	return got
}

// A log of schema 1 reads the same before and after a writer of this
// version numbers its streams, and appends go on where they left off.
func TestSchemaOneLogNumbersItsStreams(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	writeSchemaOne(t, path, interleaved)

	ro, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	before := readBack(t, ro) // read-only: nothing migrated
	if len(before[0]) != 6 {
		t.Fatalf("read %d events of schema 1, want 6", len(before[0]))
	}

	s := openAt(t, path)
	if after := readBack(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("the log reads otherwise once numbered:\n%v\nwant\n%v", after, before)
	}
	// The read-only store opened before reads the migrated log by number.
	if after := readBack(t, ro); !reflect.DeepEqual(after, before) || ro.streams.Load() != &byNumber {
		t.Fatalf("a read-only store across the migration reads by number %v:\n%v\nwant\n%v", ro.streams.Load() == &byNumber, after, before)
	}
	if _, err := s.Append(ctx, "m", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "t"}); !errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("a new stream named as an old one: %v", err)
	}
	res, err := s.Append(ctx, "m", eventstore.Exact(2), eventstore.EventData{ID: uuid.New(), Type: "t"})
	if err != nil || res.Revision != 3 || res.Position != 7 {
		t.Fatalf("appended to an old stream at %+v, %v; want revision 3, position 7", res, err)
	}
	if res, err := s.Append(ctx, "d", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "t"}); err != nil || res.Revision != 0 || res.Position != 8 {
		t.Fatalf("began a stream at %+v, %v; want revision 0, position 8", res, err)
	}

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	rows, err := db.Query(`SELECT name FROM streams ORDER BY no`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"m", "b", "x", "d"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("streams numbered %v, want in the order they began, %v", names, want)
	}
	for _, q := range []string{`UPDATE events SET type = 'x'`, `DELETE FROM events`, `UPDATE streams SET name = 'z'`, `DELETE FROM streams`} {
		if _, err := db.Exec(q); err == nil {
			t.Fatalf("%s: the log let it happen", q)
		}
	}
}

// Every event of a schema-1 log is kept, even of a stream with no event at
// revision 0, which no writer of this store makes but a log may hold.
func TestSchemaOneMigrationKeepsEveryEvent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	writeSchemaOne(t, path, []at{{"a", 0}, {"gap", 1}, {"gap", 2}, {"a", 1}})

	s := openAt(t, path)
	all, err := s.ReadAll(ctx, eventstore.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%d %s@%d", e.Position, e.Stream, e.Revision))
	}
	if want := []string{"1 a@0", "2 gap@1", "3 gap@2", "4 a@1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("migrated log holds %v, want %v", got, want)
	}
	evs, err := s.ReadStream(ctx, "gap", eventstore.Forwards, 0, 100)
	if err != nil || len(evs) != 2 {
		t.Fatalf("read the stream without revision 0: %v, %v", evs, err)
	}
}
