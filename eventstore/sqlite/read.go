package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

const eventColumns = `position, stream, revision, id, type, data, metadata, recorded_at`

// The queries of the read side, prepared once (Store.stmts). They have
// no LIMIT: each follows an index in its order, so SQLite produces rows
// only as they are read, and reading stops at the caller's maximum. A
// bound LIMIT would cost more: SQLite compiles its value into the program
// and compiles the statement again whenever the value changes.
const (
	qAll  = `SELECT ` + eventColumns + ` FROM events WHERE position > ? ORDER BY position`
	qAt   = `SELECT ` + eventColumns + ` FROM events WHERE position = ?`
	qHead = `SELECT max(position) FROM events`
)

// streamQueries are the reads of one stream. exists, by name, is empty
// where the key proves the stream exists (a number: see ReadStream).
type streamQueries struct {
	forwards, backwards, exists string
}

var (
	// byNumber reads a stream by its number (schema 2 on), which
	// Store.number finds.
	byNumber = streamQueries{
		forwards:  `SELECT ` + eventColumns + ` FROM events WHERE stream_no = ? AND revision >= ? ORDER BY revision`,
		backwards: `SELECT ` + eventColumns + ` FROM events WHERE stream_no = ? AND revision <= ? ORDER BY revision DESC`,
	}
	// byName reads a log of schema 1, which a read-only store finds when
	// no writer of this version has opened the log yet (it migrates
	// nothing).
	byName = streamQueries{
		forwards:  `SELECT ` + eventColumns + ` FROM events WHERE stream = ? AND revision >= ? ORDER BY revision`,
		backwards: `SELECT ` + eventColumns + ` FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC`,
		exists:    `SELECT 1 FROM events WHERE stream = ? LIMIT 1`,
	}
)

const qNumber = `SELECT no FROM streams WHERE name = ?`

// keptNumbers bounds the streams whose numbers a store keeps in memory:
// the streams appended to lately, by this process's writer or read.
const keptNumbers = 16_384

// number is the number of stream; numbered is false for a stream that has
// not begun. A stream's number never changes once committed, so the
// numbers kept (committed ones only) are never stale; a read of a stream
// appended to lately is then one range of the events' index, at its end.
func (s *Store) number(ctx context.Context, stream string) (no int64, numbered bool, err error) {
	if no, ok := s.numbers.Get(stream); ok {
		return no, true, nil
	}
	err = s.stmts.QueryRow(ctx, qNumber, stream).Scan(&no)
	if err == sql.ErrNoRows {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	s.numbers.Add(stream, no)
	return no, true, nil
}

// streamReads returns the reads of a stream the schema calls for. Only a
// read-only store can find schema 1, and it looks again at every read
// until another process has migrated the log: by name, a migrated log's
// stream is a scan of the whole table.
func (s *Store) streamReads(ctx context.Context) (*streamQueries, error) {
	q := s.streams.Load()
	if q != &byName {
		return q, nil
	}
	version, err := sqlitex.UserVersion(ctx, s.readers)
	if err != nil {
		return nil, fmt.Errorf("schema version: %w", err)
	}
	if version >= 2 {
		s.streams.Store(&byNumber)
		return &byNumber, nil
	}
	return q, nil
}

// ReadStream implements eventstore.Store. Revisions are contiguous from 0,
// which tells "no events" from "no stream" in the same query in the
// common cases: a stream with any event has one at revision 0 (forwards
// from 0, or any backwards read); reading forwards from a later revision
// also reads the one before it, whose presence proves the stream exists
// (an aggregate catching up from its last revision is this case).
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	// SQLite integers are signed: clamp so End reads from the last event.
	from = min(from, 1<<63-1)
	// A forwards read from a later revision reads one event more than
	// max (below): keep that count positive.
	max = min(max, math.MaxInt-1)
	q, err := s.streamReads(ctx)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	var key any = stream
	if q == &byNumber {
		no, numbered, err := s.number(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
		if !numbered {
			return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		key = no
	}
	var evs []eventstore.RecordedEvent
	switch {
	case dir == eventstore.Backwards:
		evs, err = s.query(ctx, max, q.backwards, key, int64(from))
	case from == 0:
		evs, err = s.query(ctx, max, q.forwards, key, 0)
	default:
		evs, err = s.query(ctx, max+1, q.forwards, key, int64(from-1))
		if err == nil && len(evs) > 0 {
			return evs[1:], nil // evs[0] is at from-1: the stream exists
		}
		if err == nil && q.exists == "" {
			// Numbered: a stream's number is committed with its first
			// event, so the stream exists and had fewer events than asked
			// for when the read ran.
			return nil, nil
		}
		if err == nil {
			return s.readPastEnd(ctx, q.exists, stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	return evs, nil
}

// readPastEnd answers a forwards read by name that found not even the
// event before its start: no events when the stream exists (the query
// exists finds one of its events), else ErrStreamNotFound.
func (s *Store) readPastEnd(ctx context.Context, exists, stream string) ([]eventstore.RecordedEvent, error) {
	var one int
	err := s.stmts.QueryRow(ctx, exists, stream).Scan(&one)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	// It exists now, so it had fewer events than asked for when the read
	// ran, or gained them since: an empty answer is true of that moment.
	return nil, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	evs, err := s.query(ctx, max, qAll, int64(from))
	if err != nil {
		return nil, fmt.Errorf("read all from %d: %w", from, err)
	}
	return evs, nil
}

// ReadEvent implements eventstore.Store.
func (s *Store) ReadEvent(ctx context.Context, pos eventstore.Position) (eventstore.RecordedEvent, error) {
	if pos == eventstore.Start || pos > 1<<63-1 {
		return eventstore.RecordedEvent{}, fmt.Errorf("read event at %d: %w", pos, eventstore.ErrEventNotFound)
	}
	evs, err := s.query(ctx, 1, qAt, int64(pos))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("read event at %d: %w", pos, err)
	}
	if len(evs) == 0 {
		return eventstore.RecordedEvent{}, fmt.Errorf("read event at %d: %w", pos, eventstore.ErrEventNotFound)
	}
	return evs[0], nil
}

// query runs the prepared query q and returns up to max of its events.
func (s *Store) query(ctx context.Context, max int, q string, args ...any) ([]eventstore.RecordedEvent, error) {
	rows, err := s.stmts.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows, max)
}

// scanEvents reads up to max events of rows and closes it.
func scanEvents(rows *sql.Rows, max int) ([]eventstore.RecordedEvent, error) {
	defer rows.Close()
	var evs []eventstore.RecordedEvent
	var r eventRow
	dest := r.columns()
	for len(evs) < max && rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		if len(evs) == cap(evs) {
			// Doubling from 8: a fold's batch of 16,384 makes its slice
			// 12 times, where append's growth, slower once large, takes
			// about twice as many; a read of a short stream stays small,
			// and an empty one allocates nothing.
			room := 2 * cap(evs)
			if room == 0 {
				room = 8
			}
			evs = slices.Grow(evs, min(max, room)-len(evs))
		}
		evs = append(evs, e)
	}
	// Close before Err. After a Scan into sql.RawBytes, database/sql
	// holds the rows' lock until the next Next or Close; a read stopped
	// at max has no next Next, and Err, asking for the lock again, waits
	// forever behind the close of a context canceled meanwhile
	// (golang/go#64498), keeping the connection and its snapshot.
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, err
	}
	return evs, nil
}

// eventRow is a row of eventColumns as scanned, reused from row to row.
// The id, data and metadata columns are read in place (sql.RawBytes, the
// driver's bytes until the next row), and event copies the data and
// metadata into one allocation: a read of the whole log allocates one
// slice an event where scanning into []byte cloned three.
type eventRow struct {
	pos, rev, recorded int64
	stream, typ        string
	id, data, metadata sql.RawBytes
}

// columns returns the scan destinations of eventColumns, in their order.
func (r *eventRow) columns() []any {
	return []any{&r.pos, &r.stream, &r.rev, &r.id, &r.typ, &r.data, &r.metadata, &r.recorded}
}

// event returns the event the row holds, owning its bytes.
func (r *eventRow) event() (eventstore.RecordedEvent, error) {
	id, err := uuid.FromBytes(r.id)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("event at position %d: bad id: %w", r.pos, err)
	}
	e := eventstore.RecordedEvent{
		ID: id, Position: eventstore.Position(r.pos), Stream: r.stream, Revision: uint64(r.rev),
		Type: r.typ, RecordedAt: stampTime(r.recorded),
	}
	e.Data, e.Metadata = ownBytes(r.data, r.metadata)
	return e, nil
}

// ownBytes copies a and b into one new slice and returns the two parts,
// each capped at its length so that appending to one cannot write into
// the other. An empty (or NULL) column stays nil, as scanning it into a
// []byte leaves it.
func ownBytes(a, b []byte) (ownA, ownB []byte) {
	buf := make([]byte, len(a)+len(b))
	n := copy(buf, a)
	copy(buf[n:], b)
	if len(a) > 0 {
		ownA = buf[:n:n]
	}
	if len(b) > 0 {
		ownB = buf[n:]
	}
	return ownA, ownB
}

// stampTime is a recorded_at column's time.
func stampTime(stamp int64) time.Time { return time.Unix(0, stamp).UTC() }

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var pos sql.NullInt64
	if err := s.stmts.QueryRow(ctx, qHead).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	return eventstore.Position(pos.Int64), nil
}
