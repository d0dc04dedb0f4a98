package sqlitex_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/robotlabor/billing/internal/sqlitex"
)

// Another connection reads every commit of a writer through WALVFS as soon
// as the commit returns, whatever its size (one frame, a few, more than
// the writer's cache, whose frames SQLite writes again), also when nothing syncs the WAL at a commit
// (synchronous=NORMAL), and across the WAL's checkpoints and restarts; a
// copy of the files taken after a commit, as a crash leaves them, opens
// with every commit; a rolled back transaction leaves nothing; the file
// is whole after.
func TestWALVFSCommitsAreReadAtOnce(t *testing.T) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		t.Fatal(err)
	}
	for _, synchronous := range []string{"NORMAL", "FULL"} {
		t.Run(synchronous, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "t.db")
			w := sqlitex.OpenTestDB(t, path, sqlitex.WALVFS, nil, "synchronous("+synchronous+")", "wal_autocheckpoint(64)")
			r := sqlitex.OpenTestDB(t, path, "", nil, "synchronous("+synchronous+")", "wal_autocheckpoint(64)")
			if _, err := w.ExecContext(ctx, `PRAGMA cache_size = 20; CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)`); err != nil {
				t.Fatal(err)
			}
			count := func(db *sql.DB) (rows, bytes int64, err error) {
				err = db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(v)), 0) FROM t`).Scan(&rows, &bytes)
				return rows, bytes, err
			}
			var rows, bytes int64
			for i := range 200 {
				n, size := 1+i%7, 100
				switch i % 10 {
				case 3:
					n = 40 // a few dozen pages
				case 7:
					n, size = 60, 3000 // more frames than one write gathers
				case 9:
					n, size = 150, 2000 // more pages than the writer's cache
				}
				tx, err := w.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				for j := range n {
					k := strings.Repeat(string(rune('a'+j%26)), 8) + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
					if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, randomblob(?))`, k, size); err != nil {
						t.Fatal(err)
					}
				}
				if i%10 == 9 { // change spilled pages again
					if _, err := tx.ExecContext(ctx, `UPDATE t SET v = randomblob(length(v)) WHERE id % 3 = 0`); err != nil {
						t.Fatal(err)
					}
				}
				if i%50 == 49 {
					if err := tx.Rollback(); err != nil {
						t.Fatal(err)
					}
				} else {
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
					rows, bytes = rows+int64(n), bytes+int64(n*size)
				}
				gotRows, gotBytes, err := count(r)
				if err != nil {
					t.Fatalf("read after commit %d: %v", i, err)
				}
				if gotRows != rows || gotBytes != bytes {
					t.Fatalf("after commit %d the reader sees %d rows of %d bytes, want %d of %d", i, gotRows, gotBytes, rows, bytes)
				}
				if i%10 == 9 {
					crashed := sqlitex.OpenTestDB(t, crashCopy(t, path), "", nil, "synchronous("+synchronous+")", "wal_autocheckpoint(64)")
					gotRows, gotBytes, err := count(crashed)
					if err != nil {
						t.Fatalf("read a copy after commit %d: %v", i, err)
					}
					if gotRows != rows || gotBytes != bytes {
						t.Fatalf("a copy after commit %d has %d rows of %d bytes, want %d of %d", i, gotRows, gotBytes, rows, bytes)
					}
					crashed.Close()
				}
			}
			for _, db := range []*sql.DB{r, w} {
				var check string
				if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
					t.Fatalf("integrity_check: %q %v", check, err)
				}
			}
		})
	}
}

// crashCopy copies the database at path and its WAL, as a crash of the
// process would leave them, and returns the copy's path.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// BenchmarkWALCommit commits transactions of ten rows of 1 KB (a dozen
// frames) through the platform's VFS and through WALVFS.
//

// A transaction larger than its writer's cache writes frames to the WAL
// before it commits, and rolls back, which makes no call on the WAL file;
// another writer then commits at the same offsets. Nothing of the first
// writer's may reach the file after that: the second's commits stay whole,
// read by it, by a new connection and in a copy of the files as a crash
// leaves them, also after the first writer uses its WAL file again.
func TestWALVFSHoldsNothingPastARollback(t *testing.T) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		t.Fatal(err)
	}
	for _, vfs := range [][2]string{{sqlitex.WALVFS, sqlitex.WALVFS}, {sqlitex.WALVFS, ""}} {
		t.Run("second="+vfs[1], func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "t.db")
			a := sqlitex.OpenTestDB(t, path, vfs[0], nil, "cache_size(10)", "wal_autocheckpoint(0)")
			b := sqlitex.OpenTestDB(t, path, vfs[1], nil, "wal_autocheckpoint(0)")
			if _, err := b.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
				t.Fatal(err)
			}
			if _, err := b.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
			tx, err := a.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 60 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (randomblob(3000))`); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			for range 60 {
				if _, err := b.ExecContext(ctx, `INSERT INTO t (v) VALUES (zeroblob(3000))`); err != nil {
					t.Fatal(err)
				}
			}
			check := func(db *sql.DB, who string) {
				t.Helper()
				var n, zeros int
				var ok string
				if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(v = zeroblob(3000)), 0) FROM t`).Scan(&n, &zeros); err != nil {
					t.Fatalf("%s: %v", who, err)
				}
				if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil {
					t.Fatalf("%s: %v", who, err)
				}
				if n != 60 || zeros != 60 || ok != "ok" {
					t.Errorf("%s: %d rows, %d as written, integrity %q; want 60, 60, ok", who, n, zeros, ok)
				}
			}
			var n int
			if err := a.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if _, err := a.ExecContext(ctx, `INSERT INTO t (v) VALUES (zeroblob(3000)); DELETE FROM t WHERE id = last_insert_rowid()`); err != nil {
				t.Fatal(err)
			}
			check(b, "the second writer")
			check(sqlitex.OpenTestDB(t, path, "", nil), "a new connection")
			check(sqlitex.OpenTestDB(t, crashCopy(t, path), "", nil), "a crash copy")
		})
	}
}

// Without powersafe overwrite (psow=0) a synced commit is padded to a
// sector's end, and SQLite syncs in the middle of the write that crosses
// it: every commit is read by another connection as soon as it returns,
// and the file is whole after the log restarts and is checkpointed.
func TestWALVFSPaddedCommits(t *testing.T) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	w := sqlitex.OpenTestDB(t, path, sqlitex.WALVFS, map[string]string{"psow": "0"}, "wal_autocheckpoint(16)")
	r := sqlitex.OpenTestDB(t, path, "", nil)
	if _, err := w.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := w.ExecContext(ctx, `INSERT INTO t (v) VALUES (zeroblob(100 + ?))`, 40*i); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := r.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("after commit %d the reader sees %d rows, %v", i+1, n, err)
		}
	}
	var ok string
	var bad int
	if err := r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM t WHERE v != zeroblob(100 + 40*(id-1))), (SELECT integrity_check FROM pragma_integrity_check)`).Scan(&bad, &ok); err != nil || bad != 0 || ok != "ok" {
		t.Fatalf("%d rows not as written, integrity %q, %v", bad, ok, err)
	}
}

// go test ./internal/sqlitex -run '^$' -bench WALCommit
func BenchmarkWALCommit(b *testing.B) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		b.Fatal(err)
	}
	for _, vfs := range []string{"", sqlitex.WALVFS} {
		name := vfs
		if name == "" {
			name = "unix"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			w := sqlitex.OpenTestDB(b, filepath.Join(b.TempDir(), "t.db"), vfs, nil, "synchronous(NORMAL)", "wal_autocheckpoint(64)")
			if _, err := w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 10000;
				CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB UNIQUE, v BLOB)`); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				tx, err := w.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for range 10 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (randomblob(16), randomblob(1000))`); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
