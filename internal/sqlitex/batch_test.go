package sqlitex_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/robotlabor/billing/internal/sqlitex"
	_ "modernc.org/sqlite"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestBatchCallsAreIsolated: calls that share a transaction keep what
// succeeded and drop all of a call that failed, even its earlier writes.
func TestBatchCallsAreIsolated(t *testing.T) {
	db := openDB(t)
	b := sqlitex.NewBatch(db, 64, 0)
	defer b.Close()
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Do(context.Background(), func(ctx context.Context, tx *sqlitex.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint("k", i), i); err != nil {
					return err
				}
				if i%4 == 0 {
					return errBoom // after a write: the write must go too
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%4 == 0) != errors.Is(err, errBoom) || (i%4 != 0 && err != nil) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kv`).Scan(&n); err != nil || n != 30 {
		t.Fatalf("rows after the calls: %d, %v; want the 30 calls that succeeded", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM kv WHERE v % 4 = 0`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows of failed calls: %d, %v; want none", n, err)
	}
}

// TestBatchSeesEarlierCallsOfItsTransaction: a call sees what calls before
// it wrote (the sandbox's idempotency keys depend on it), and a unique
// violation in one call does not abort the others.
func TestBatchSeesEarlierCallsOfItsTransaction(t *testing.T) {
	db := openDB(t)
	b := sqlitex.NewBatch(db, 64, 0)
	defer b.Close()
	put := func(ctx context.Context, tx *sqlitex.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv (k, v) VALUES ('same', 1)`)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = b.Do(context.Background(), put) }()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 10 inserts of one key succeeded, want 1: %v", ok, errs)
	}
}

func TestBatchAfterClose(t *testing.T) {
	db := openDB(t)
	b := sqlitex.NewBatch(db, 8, 0)
	b.Close()
	err := b.Do(context.Background(), func(context.Context, *sqlitex.Tx) error { return nil })
	if !errors.Is(err, sqlitex.ErrBatchClosed) {
		t.Fatalf("Do after Close: %v, want ErrBatchClosed", err)
	}
}

// TestTxPreparesOnceForTheDatabase: a statement first run inside a
// transaction holding the only connection is prepared there (not waiting
// for the connection, which would never come), and for the database after.
func TestTxPreparesOnceForTheDatabase(t *testing.T) {
	db := openDB(t)
	stmts := sqlitex.NewStmts(db)
	defer stmts.Close()
	const q = `INSERT INTO kv (k, v) VALUES (?, ?)`
	for i := range 2 {
		raw, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		tx := stmts.Wrap(raw)
		if _, err := tx.ExecContext(context.Background(), q, fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		tx.Done(context.Background())
		if _, ok := stmts.Cached(q); !ok {
			t.Fatalf("after transaction %d the statement is not prepared for the database", i)
		}
	}
}
