package sqlitex

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Stmts prepares each query once for a database and reuses the statement:
// SQLite compiles a statement's text into a program, which costs more than
// running a small indexed query, so hot paths must not pay it per call.
// database/sql keeps one prepared copy per connection of the pool. It is
// safe for concurrent use.
type Stmts struct {
	db *sql.DB
	m  sync.Map // query text → *sql.Stmt
	mu sync.Mutex
}

// NewStmts returns an empty statement cache for db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db} }

// DB is the database the statements are prepared on.
func (s *Stmts) DB() *sql.DB { return s.db }

// Cached returns the prepared statement of query if it was prepared before.
// A caller inside a transaction on a one-connection database uses it,
// since Prepared would wait for the connection the transaction holds.
func (s *Stmts) Cached(query string) (*sql.Stmt, bool) {
	st, ok := s.m.Load(query)
	if !ok {
		return nil, false
	}
	return st.(*sql.Stmt), true
}

// Prepared returns the prepared statement of query, preparing it on first
// use (on a connection of the pool: not from inside a transaction holding
// the only one, see Cached).
func (s *Stmts) Prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.m.Store(query, st)
	return st, nil
}

// Query runs a prepared query.
func (s *Stmts) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.Prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRow runs a prepared query expected to return at most one row. A
// failure to prepare shows as the row's error.
func (s *Stmts) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.Prepared(ctx, query)
	if err != nil {
		// database/sql offers no *sql.Row carrying an error; run it
		// unprepared, which reports the same error.
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Exec runs a prepared statement.
func (s *Stmts) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.Prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Close closes every prepared statement (not the database).
func (s *Stmts) Close() error {
	var errs []error
	s.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		s.m.Delete(k)
		return true
	})
	return errors.Join(errs...)
}
