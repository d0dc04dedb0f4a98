package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

const eventColumns = `position, stream, revision, id, type, data, metadata, recorded_at`

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, dir eventstore.Direction, from uint64, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	q := `SELECT ` + eventColumns + ` FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`
	if dir == eventstore.Backwards {
		q = `SELECT ` + eventColumns + ` FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`
	}
	// SQLite integers are signed: clamp so End reads from the last event.
	if from > 1<<63-1 {
		from = 1<<63 - 1
	}
	// One read transaction, so that "no events" and "no stream" are told
	// apart on the same snapshot as the read.
	tx, err := s.readers.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	evs, err := query(ctx, tx, q, stream, int64(from), max)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", stream, err)
	}
	if len(evs) == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM events WHERE stream = ? LIMIT 1`, stream).Scan(&one)
		if err == sql.ErrNoRows {
			return nil, fmt.Errorf("read stream %s: %w", stream, eventstore.ErrStreamNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", stream, err)
		}
	}
	return evs, nil
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, from eventstore.Position, max int) ([]eventstore.RecordedEvent, error) {
	if max <= 0 {
		return nil, nil
	}
	evs, err := query(ctx, s.readers, `SELECT `+eventColumns+` FROM events WHERE position > ? ORDER BY position LIMIT ?`, int64(from), max)
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
	evs, err := query(ctx, s.readers, `SELECT `+eventColumns+` FROM events WHERE position = ?`, int64(pos))
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("read event at %d: %w", pos, err)
	}
	if len(evs) == 0 {
		return eventstore.RecordedEvent{}, fmt.Errorf("read event at %d: %w", pos, eventstore.ErrEventNotFound)
	}
	return evs[0], nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func query(ctx context.Context, db querier, q string, args ...any) ([]eventstore.RecordedEvent, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []eventstore.RecordedEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

func scanEvent(rows *sql.Rows) (eventstore.RecordedEvent, error) {
	var (
		e        eventstore.RecordedEvent
		pos, rev int64
		id       []byte
		recorded int64
	)
	if err := rows.Scan(&pos, &e.Stream, &rev, &id, &e.Type, &e.Data, &e.Metadata, &recorded); err != nil {
		return e, err
	}
	uid, err := uuid.FromBytes(id)
	if err != nil {
		return e, fmt.Errorf("event at position %d: bad id: %w", pos, err)
	}
	e.ID, e.Position, e.Revision = uid, eventstore.Position(pos), uint64(rev)
	e.RecordedAt = time.Unix(0, recorded).UTC()
	return e, nil
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var pos sql.NullInt64
	if err := s.readers.QueryRowContext(ctx, `SELECT max(position) FROM events`).Scan(&pos); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	return eventstore.Position(pos.Int64), nil
}
