package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/eventstore"
	driver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// statements are the writer's prepared statements; preparing once saves a
// SQL parse per query on the hot path.
type statements struct {
	begin, number, recent, fromRevision, insert *sql.Stmt
}

func prepare(ctx context.Context, db *sql.DB) (*statements, error) {
	var st statements
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.begin, `INSERT INTO streams (name) VALUES (?)`},
		{&st.number, `SELECT no FROM streams WHERE name = ?`},
		{&st.recent, `SELECT id, revision FROM events WHERE stream_no = ? ORDER BY revision DESC LIMIT ` + strconv.Itoa(recentIDs)},
		{&st.fromRevision, `SELECT id, position FROM events WHERE stream_no = ? AND revision >= ? ORDER BY revision`},
		{&st.insert, `INSERT INTO events (stream, stream_no, revision, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		stmt, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	return &st, nil
}

// batchTx is the batch transaction with the prepared statements bound to it.
type batchTx struct {
	ctx                                         context.Context
	begin, number, recent, fromRevision, insert *sql.Stmt
	written                                     []eventstore.RecordedEvent // as the file will hold them once committed
	heads                                       *heads                     // as of the last commit; nil: none known
	numbers                                     *lru.Cache[string, int64]  // the store's committed numbers
}

func bind(ctx context.Context, tx *sql.Tx, st *statements) *batchTx {
	return &batchTx{
		ctx:          ctx,
		begin:        tx.StmtContext(ctx, st.begin),
		number:       tx.StmtContext(ctx, st.number),
		recent:       tx.StmtContext(ctx, st.recent),
		fromRevision: tx.StmtContext(ctx, st.fromRevision),
		insert:       tx.StmtContext(ctx, st.insert),
	}
}

// append decides and writes one append inside the batch transaction, and
// returns the number of the stream it wrote to. A refusal leaves nothing
// behind.
func (tx *batchTx) append(req *appendReq, stamp int64) (eventstore.AppendResult, int64, error) {
	if req.expected.IsNoStream() {
		// A stream begins by numbering its name, which is unique: try it
		// without looking the name up first. A unique violation aborts
		// only that statement; the stream exists, and the full path below
		// decides.
		no, err := tx.beginStream(req.stream)
		if err == nil {
			res, err := tx.insertFrom(req, no, 0, stamp)
			return res, no, err
		}
		if !errors.Is(err, errStreamExists) {
			return eventstore.AppendResult{}, 0, err
		}
	}
	if rev, ok := req.expected.Revision(); ok {
		if no, ok := tx.heads.allow(req.stream, rev, req.events); ok {
			// The head this writer last committed is the one expected,
			// and none of the append's ids is in the stream: write after
			// it without reading the head. Heads only grow, and a unique
			// violation aborts only that statement; should another writer
			// have moved the head since, the full path below decides.
			res, err := tx.insertFrom(req, no, rev+1, stamp)
			if !errors.Is(err, errStreamExists) {
				return res, no, err
			}
			tx.heads.forget(req.stream) // moved by an append this writer did not see
		}
	}
	no, numbered, err := tx.numberOf(req.stream)
	if err != nil {
		return eventstore.AppendResult{}, 0, err
	}
	// One read of the stream's newest events, newest first: the first is
	// its head, and only when the expected revision holds are the rest
	// read, for the ids checkRecentIDs looks for.
	var (
		recent *sql.Rows
		head   idRev
		exists bool
	)
	if numbered {
		if recent, err = tx.recent.QueryContext(tx.ctx, no); err != nil {
			return eventstore.AppendResult{}, 0, err
		}
		defer recent.Close() //nolint:errcheck // closed already but on an error
		if head, exists, err = nextRecent(recent); err != nil {
			return eventstore.AppendResult{}, 0, err
		}
	}
	last := uint64(head.rev)
	if !req.expected.Holds(last, exists) {
		if recent != nil {
			if err := recent.Close(); err != nil {
				return eventstore.AppendResult{}, 0, err
			}
		}
		// A retry of an append that already succeeded finds its own
		// events where the expected revision said they would go.
		if start, ok := originalStart(req.expected); ok && exists {
			if res, ok, err := tx.matchAt(req, no, start); err != nil || ok {
				return res, no, err
			}
		}
		return eventstore.AppendResult{}, 0, &eventstore.ConflictError{Stream: req.stream, Expected: req.expected, Actual: last, Exists: exists}
	}
	if exists {
		if res, done, err := tx.checkRecentIDs(req, no, head, recent); err != nil || done {
			return res, no, err
		}
	}
	next := uint64(0)
	if exists {
		next = last + 1
	}
	if !numbered {
		// The name was looked up in this transaction; nothing can take it.
		if no, err = tx.beginStream(req.stream); err != nil {
			return eventstore.AppendResult{}, 0, fmt.Errorf("begin stream %s: %w", req.stream, err)
		}
	}
	res, err := tx.insertFrom(req, no, next, stamp)
	if errors.Is(err, errStreamExists) {
		// The head was read in this transaction; nothing can take next.
		return res, no, fmt.Errorf("append to %s at revision %d: %w", req.stream, next, err)
	}
	return res, no, err
}

// errStreamExists: the first insert of an append found its revision
// taken, or a stream's name numbered already.
var errStreamExists = errors.New("revision already taken")

// beginStream numbers a new stream. When the name is numbered already it
// returns errStreamExists, having written nothing.
func (tx *batchTx) beginStream(stream string) (int64, error) {
	r, err := tx.begin.ExecContext(tx.ctx, stream)
	if isUniqueViolation(err) {
		return 0, errStreamExists
	}
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

// numberOf is the number of stream; numbered is false for a stream that
// has not begun. A number the store keeps is committed, so it holds here.
func (tx *batchTx) numberOf(stream string) (no int64, numbered bool, err error) {
	if no, ok := tx.numbers.Get(stream); ok {
		return no, true, nil
	}
	err = tx.number.QueryRowContext(tx.ctx, stream).Scan(&no)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return no, err == nil, err
}

func isUniqueViolation(err error) bool {
	var serr *driver.Error
	return errors.As(err, &serr) && serr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// insertFrom writes the request's events from revision next on of stream
// number no. When the first one's revision is taken it returns
// errStreamExists, having written nothing.
func (tx *batchTx) insertFrom(req *appendReq, no int64, next uint64, stamp int64) (eventstore.AppendResult, error) {
	var pos int64
	for i, e := range req.events {
		data := e.Data
		if data == nil {
			data = []byte{}
		}
		r, err := tx.insert.ExecContext(tx.ctx, req.stream, no, int64(next)+int64(i), e.ID[:], e.Type, data, e.Metadata, stamp)
		if i == 0 && isUniqueViolation(err) {
			return eventstore.AppendResult{}, errStreamExists
		}
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		if pos, err = r.LastInsertId(); err != nil {
			return eventstore.AppendResult{}, err
		}
		tx.written = append(tx.written, recorded(req.stream, next+uint64(i), pos, e, stamp))
	}
	return eventstore.AppendResult{Revision: next + uint64(len(req.events)) - 1, Position: eventstore.Position(pos), Written: true}, nil
}

// recentIDs bounds how far back in a stream an append's ids are looked
// for, as EventStoreDB only looks at recent events: one indexed range read
// per append, whatever the stream's length.
const recentIDs = 10_000

// idRev is an event's id and revision, as the recent statement reads them.
type idRev struct {
	id  uuid.UUID
	rev int64
}

// nextRecent reads the next row of the recent statement; ok is false at
// the end.
func nextRecent(rows *sql.Rows) (e idRev, ok bool, err error) {
	if !rows.Next() {
		return idRev{}, false, rows.Err()
	}
	var id []byte
	if err := rows.Scan(&id, &e.rev); err != nil {
		return idRev{}, false, err
	}
	if len(id) != len(e.id) {
		return idRev{}, false, fmt.Errorf("event id of %d bytes at revision %d", len(id), e.rev)
	}
	e.id = uuid.UUID(id)
	return e, true, nil
}

// checkRecentIDs refuses an append whose ids are already among the
// stream's recent events (head, then the rest of rows, newest first),
// unless it is an Any-append's retry (its first id and the ones after it
// exactly where they were written), which succeeds with the first result.
// Event ids are unique across the log by construction (random, or derived
// from unique names), which is why no global index is paid for on every
// append.
func (tx *batchTx) checkRecentIDs(req *appendReq, no int64, head idRev, rows *sql.Rows) (eventstore.AppendResult, bool, error) {
	indexOf := eventIndex(req.events)
	// The first of the append's events found among the recent ones, and
	// the newest revision that holds its id.
	first, rev := -1, int64(0)
	for e, ok := head, true; ok; {
		if i := indexOf(e.id); i >= 0 && (first < 0 || i < first) {
			first, rev = i, e.rev
		}
		var err error
		if e, ok, err = nextRecent(rows); err != nil {
			return eventstore.AppendResult{}, false, err
		}
	}
	if first < 0 {
		return eventstore.AppendResult{}, false, nil
	}
	if first == 0 && req.expected.IsAny() {
		if res, ok, err := tx.matchAt(req, no, uint64(rev)); err != nil || ok {
			return res, true, err
		}
	}
	return eventstore.AppendResult{}, true, fmt.Errorf("%w: event id %s is already in %s at revision %d", eventstore.ErrInvalidAppend, req.events[first].ID, req.stream, rev)
}

// eventIndex returns where an id first is among events, -1 when it is not
// there: a scan of a few events, a map of many, so that checking up to
// recentIDs ids costs one pass over them whatever the append's size.
func eventIndex(events []eventstore.EventData) func(id uuid.UUID) int {
	if len(events) <= 8 {
		return func(id uuid.UUID) int {
			return slices.IndexFunc(events, func(e eventstore.EventData) bool { return e.ID == id })
		}
	}
	at := make(map[uuid.UUID]int, len(events))
	for i := len(events) - 1; i >= 0; i-- {
		at[events[i].ID] = i
	}
	return func(id uuid.UUID) int {
		if i, ok := at[id]; ok {
			return i
		}
		return -1
	}
}

// originalStart is the revision at which an append with this expectation
// wrote its first event, had it succeeded earlier.
func originalStart(expected eventstore.ExpectedRevision) (uint64, bool) {
	if expected.IsNoStream() {
		return 0, true
	}
	if rev, ok := expected.Revision(); ok {
		return rev + 1, true
	}
	return 0, false
}

// matchAt reports whether the request's events are already stored, in order,
// from revision start of its stream (number no), and if so the result of that append.
func (tx *batchTx) matchAt(req *appendReq, no int64, start uint64) (eventstore.AppendResult, bool, error) {
	rows, err := tx.fromRevision.QueryContext(tx.ctx, no, int64(start))
	if err != nil {
		return eventstore.AppendResult{}, false, err
	}
	defer rows.Close()
	n := 0
	var pos int64
	for n < len(req.events) && rows.Next() {
		var id []byte
		if err := rows.Scan(&id, &pos); err != nil {
			return eventstore.AppendResult{}, false, err
		}
		if string(id) != string(req.events[n].ID[:]) {
			return eventstore.AppendResult{}, false, rows.Err()
		}
		n++
	}
	if err := rows.Err(); err != nil || n != len(req.events) {
		return eventstore.AppendResult{}, false, err
	}
	return eventstore.AppendResult{Revision: start + uint64(n) - 1, Position: eventstore.Position(pos)}, true, nil
}
