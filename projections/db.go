package projections

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no C compiler needed

	"github.com/robotlabor/billing/internal/sqlitex"
)

// mode is how a connection pool uses its database file.
type mode int

const (
	// durable writes: a committed batch and its checkpoint survive a
	// crash of the process together. With synchronous=NORMAL in WAL mode a
	// commit is not fsynced (the WAL is, at each checkpoint), so a power
	// loss may take the last batches, and always with their checkpoint:
	// the projector folds them again from the log, which is durable, and
	// serve is not ready until it has. Read models are derived; an fsync
	// per batch would buy nothing the log does not already guarantee.
	durable mode = iota
	// scratch writes: a database thrown away whole should anything fail
	// (Verify's fold aside; Rebuild's new file, until it is complete and
	// synced and renamed into place): no fsync and no journal, so each
	// page is written once. Without a journal a failed transaction cannot
	// be rolled back, which is why a scratch database is never kept after
	// an error.
	scratch
	// foldAside: scratch, in pages of 16 KB (asidePage), for a fold that
	// is compared and thrown away (Verify's), never served.
	foldAside
	// readOnly: queries only.
	readOnly
)

// scratchCache is a scratch database's page cache: 128 MB. A long fold
// (rebuild, verify) keeps the orders' hot pages in it: the last leaf of
// each user's rows and the id index. Every page the cache holds was
// allocated fresh (modernc's allocator gives a 4 KB page with its header an
// 8 KB slot), and touching new memory costs a page fault each 4 KB, so a
// larger cache costs more than it saves: on a million events, 256 MB
// folded 10–20% slower than 128 MB, 64 MB and below slower again on a
// log whose users' orders interleave (docs/performance-log.md).
const scratchCache = "cache_size(-131072)"

// asidePage is the page size of a fold thrown away once compared: 16 KB,
// four times SQLite's default. An order's row (its JSON body) is ~400
// bytes, so a 4 KB leaf of the orders table holds nine and a fold splits
// one every nine inserts; at 16 KB the B-trees are a level shallower and
// split a quarter as often. Verify of a million events ran 1–34% faster
// (median 15%, nine pairs); a fold into 8 KB pages gained half that, into
// 32 or 64 KB no more. The read models that are served, a rebuild's
// included, keep 4 KB pages: at 16 KB orders under a load mixed with
// pages took 8% more CPU each (a commit logs whole pages, and a read after
// it reads them again), and a rebuild folded into 16 KB pages and copied
// into 4 KB ones (VACUUM INTO) gained too little to tell from the noise
// (docs/performance-log.md).
const asidePage = "page_size(16384)"

// dsn builds the modernc.org/sqlite data source name. WAL lets the queries
// of the HTTP handlers (and a `billing verify` in another process) read
// beside the projector's writes.
func dsn(path string, m mode) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	switch m {
	case durable:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", sqlitex.WriterCache)
		q.Add("_pragma", sqlitex.WriterCheckpoint)
		q.Set("vfs", sqlitex.WALVFS)
		q.Set("_txlock", "immediate")
	case foldAside:
		q.Add("_pragma", asidePage)
		fallthrough
	case scratch:
		// The driver runs the _pragma list in lexical order (busy_timeout
		// first), journal_mode before page_size; this key runs after it.
		q.Set("_journal_mode", "OFF")
		q.Add("_pragma", "synchronous(OFF)")
		q.Add("_pragma", scratchCache)
		q.Set("_txlock", "immediate")
	case readOnly:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

// openWriter opens the one write connection to path and migrates its
// schema. One connection, because SQLite has one writer anyway and
// "immediate" transactions then never wait on each other.
func openWriter(ctx context.Context, path string, m mode) (*sql.DB, error) {
	if err := sqlitex.RegisterWALVFS(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(path, m))
	if err != nil {
		return nil, fmt.Errorf("open read models %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	if err := sqlitex.Migrate(ctx, db, "read models", migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open read models %s: %w", path, err)
	}
	return db, nil
}

// openReaders opens a pool of query-only connections to path.
func openReaders(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, readOnly))
	if err != nil {
		return nil, fmt.Errorf("open read models %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open read models %s: %w", path, err)
	}
	return db, nil
}
