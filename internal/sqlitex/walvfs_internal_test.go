package sqlitex

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// gatheredAtRelease, when set, is called as a connection releases a WAL's
// write lock, before WALVFS writes what it gathered, with how many bytes
// that is.
var gatheredAtRelease func(n int32)

func probeShmLock(tls *libc.TLS, pFile uintptr, ofst, n, flags int32) int32 {
	if ofst == 0 && flags&sqlite3.SQLITE_SHM_UNLOCK != 0 && gatheredAtRelease != nil {
		wals.mu.Lock()
		files := append([]uintptr(nil), wals.byDB[dbPath(pFile)]...)
		wals.mu.Unlock()
		var g int32
		for _, p := range files {
			g += shim(p).n
		}
		gatheredAtRelease(g)
	}
	return dbShmLock(tls, pFile, ofst, n, flags)
}

func probeReleases() {
	dbTables.mu.Lock()
	defer dbTables.mu.Unlock()
	for _, p := range dbTables.wrapped {
		at[sqlite3.Tsqlite3_io_methods](p).FxShmLock = cFunc(probeShmLock)
	}
}

// openTestDB opens path in WAL mode (synchronous FULL unless pragmas say
// otherwise) through the VFS named (the platform's when empty), with the
// DSN's params and pragmas given, one connection, closed at the test's
// end.
func openTestDB(t testing.TB, path, vfs string, params map[string]string, pragmas ...string) *sql.DB {
	t.Helper()
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	for k, v := range params {
		q.Set(k, v)
	}
	if vfs != "" {
		q.Set("vfs", vfs)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// When a commit is published (SQLite then releases the write lock), none
// of its bytes is still gathered, also when its frame's header does not
// continue the connection's last write and so goes to the file at once:
// after another connection's commit, on a log the connection did not
// write, after a rolled back transaction that spilled frames, after a
// commit that rewrote checksums. Without a sync at commits
// (synchronous=NORMAL), where nothing else writes the buffer.
func TestWALVFSCommitsAreInTheFileWhenPublished(t *testing.T) {
	if err := RegisterWALVFS(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spill := func(t *testing.T, a *sql.DB, commit bool) {
		tx, err := a.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck // committed or meant to roll back
		for range 60 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO big (v) VALUES (randomblob(3000))`); err != nil {
				t.Fatal(err)
			}
		}
		if !commit {
			return
		}
		if _, err := tx.ExecContext(ctx, `UPDATE big SET v = randomblob(3000) WHERE id % 5 = 0`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		before func(t *testing.T, path string, a *sql.DB) *sql.DB
	}{
		{"after its own commit", func(*testing.T, string, *sql.DB) *sql.DB { return nil }},
		{"after another connection's commit", func(t *testing.T, path string, _ *sql.DB) *sql.DB {
			if _, err := openTestDB(t, path, "", nil).ExecContext(ctx, `INSERT INTO big (v) VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"on a log it did not write", func(t *testing.T, path string, a *sql.DB) *sql.DB {
			keep := openTestDB(t, path, "", nil) // keeps the WAL as a closes
			if err := keep.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(new(int)); err != nil {
				t.Fatal(err)
			}
			a.Close()
			return openTestDB(t, path, WALVFS, nil, "synchronous(NORMAL)", "wal_autocheckpoint(0)", "cache_size(10)")
		}},
		{"after a rolled back transaction that spilled", func(t *testing.T, _ string, a *sql.DB) *sql.DB {
			spill(t, a, false)
			return nil
		}},
		{"after a commit that rewrote checksums", func(t *testing.T, _ string, a *sql.DB) *sql.DB {
			spill(t, a, true)
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.db")
			a := openTestDB(t, path, WALVFS, nil, "synchronous(NORMAL)", "wal_autocheckpoint(0)", "cache_size(10)")
			if _, err := a.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER); CREATE TABLE big (id INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, 0)`); err != nil {
				t.Fatal(err)
			}
			if reopened := c.before(t, path, a); reopened != nil {
				a = reopened
			}
			probeReleases()
			released := int32(-1)
			gatheredAtRelease = func(n int32) {
				if released == -1 {
					released = n
				}
			}
			_, err := a.ExecContext(ctx, `UPDATE t SET v = v + 1 WHERE id = 1`)
			gatheredAtRelease = nil
			if err != nil {
				t.Fatal(err)
			}
			if released != 0 {
				t.Errorf("%d bytes of the commit still gathered when it was published (-1: no release seen)", released)
			}
		})
	}
}
