package sqlitex

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// Page splits that swap page numbers through the lock page's keep the page
// cache's mark (rekeyPage runs), and the cache still drops what it must: a
// connection with a small cache inserts at random places of an index,
// with transactions that grow the file and roll back (their pages past the
// file's end must leave the cache, or a later transaction would read them
// as they were), and every row is there and nothing else, the file whole.
//
// With a write-ahead log (the service's files) and a rollback journal.
func TestPageCacheKeepsItsMarkThroughSwaps(t *testing.T) {
	if !pageCacheHooked {
		t.Fatal("the page cache's rekey is not wrapped: SQLite was initialised before this package's init")
	}
	for _, journal := range []string{"WAL", "DELETE"} {
		t.Run(journal, func(t *testing.T) { testPageCacheSwaps(t, journal) })
	}
}

func testPageCacheSwaps(t *testing.T, journal string) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=journal_mode("+journal+")&_pragma=cache_size(30)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]int{}
	before := swapsKept.Load()
	for i := range 300 {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		rollback := i%4 == 3
		added := map[string]int{}
		for range 1 + rng.IntN(80) {
			k, n := fmt.Sprintf("%016x", rng.Uint64()), 50+rng.IntN(900)
			if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, zeroblob(?))`, k, n); err != nil {
				t.Fatal(err)
			}
			added[k] = n
		}
		if rollback {
			err = tx.Rollback()
		} else {
			err = tx.Commit()
			for k, n := range added {
				want[k] = n
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if swapsKept.Load() == before {
		t.Fatal("no split swapped page numbers through the lock page's: the test does not test it")
	}
	rows, err := db.QueryContext(ctx, `SELECT k, length(v) FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		if want[k] != n {
			t.Errorf("row %s: %d bytes, want %d (0: rolled back)", k, n, want[k])
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("%d rows, want %d", got, len(want))
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
}
