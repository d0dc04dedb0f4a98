package sqlitex

import (
	"context"
	"database/sql"
)

// Tx is a transaction whose statements come prepared from a Stmts. Its
// ExecContext, QueryContext and QueryRowContext shadow those of sql.Tx, so
// code written against a *sql.Tx reads the same. The writers of this
// service hold a database's only connection in their transactions, where
// Stmts.Prepared would wait forever for it: a statement not prepared yet is
// prepared for this transaction alone, and for the database by Done, once
// the connection is free.
type Tx struct {
	*sql.Tx
	stmts   *Stmts
	bound   map[string]*sql.Stmt // statements bound to this transaction
	missing []string             // to prepare for the database in Done
}

// Wrap returns tx with the statements of s.
func (s *Stmts) Wrap(tx *sql.Tx) *Tx {
	return &Tx{Tx: tx, stmts: s, bound: make(map[string]*sql.Stmt)}
}

func (t *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.bound[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if p, ok := t.stmts.Cached(query); ok {
		st = t.Tx.StmtContext(ctx, p)
	} else {
		var err error
		if st, err = t.Tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		t.missing = append(t.missing, query)
	}
	t.bound[query] = st
	return st, nil
}

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a query expected to return at most one row. A
// failure to prepare shows as the row's error.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// Done prepares for the database the statements this transaction had to
// prepare for itself. Call it after Commit or Rollback. It is best effort:
// the transaction's outcome stands, and a statement that fails to prepare
// here is prepared by the next transaction that runs it.
func (t *Tx) Done(ctx context.Context) {
	for _, q := range t.missing {
		t.stmts.Prepared(ctx, q) //nolint:errcheck // see above
	}
	t.missing = nil
}
