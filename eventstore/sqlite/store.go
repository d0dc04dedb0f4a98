package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no C compiler needed
)

// Config configures an embedded store.
type Config struct {
	// Path of the database file; created with its directory if missing.
	Path string
	// ReadOnly opens the store for reading only (no writer, no migration):
	// what auditors' commands use next to a running server.
	ReadOnly bool
	// MaxBatch caps how many appends share one transaction. Default 512.
	MaxBatch int
	// Linger is how long a group commit may wait for more appends when the
	// store is busy (see sqlitex.Gather); negative: never. Default 1ms.
	Linger time.Duration
	// PollInterval is how often an idle subscription looks for events
	// appended by another process; appends of this process wake it at once.
	// Default 100ms.
	PollInterval time.Duration
	// Now is the clock stamping RecordedAt. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Path == "" {
		return errors.New("sqlite event store: Path is required")
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 512
	}
	if c.Linger == 0 {
		c.Linger = sqlitex.DefaultLinger
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 100 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Store is the embedded event store. It is safe for concurrent use.
type Store struct {
	cfg     Config
	readers *sql.DB
	stmts   *sqlitex.Stmts                // the readers' prepared queries
	streams atomic.Pointer[streamQueries] // the reads of a stream, as the schema has them
	numbers *lru.Cache[string, int64]     // streams' numbers, committed ones only
	writer  *writer                       // nil when read-only
	tail    *tail                         // this process's latest commits; nil when read-only

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every commit
	closed  chan struct{}
	once    sync.Once
}

var _ eventstore.Store = (*Store)(nil)

// Open opens (creating if needed) the store at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, changed: make(chan struct{}), closed: make(chan struct{})}
	numbers, err := lru.New[string, int64](keptNumbers)
	if err != nil {
		return nil, err
	}
	s.numbers = numbers
	if !cfg.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
			return nil, fmt.Errorf("open event store: %w", err)
		}
		s.tail = newTail(tailSize, tailBytes)
		w, err := openWriter(ctx, cfg, s.committed, numbers)
		if err != nil {
			return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
		}
		s.writer = w
	} else if _, err := os.Stat(cfg.Path); err != nil {
		return nil, fmt.Errorf("open event store read-only: %w", err)
	}
	readers, err := sql.Open("sqlite", dsn(cfg.Path, true, cfg.ReadOnly))
	if err != nil {
		s.closeWriter()
		return nil, fmt.Errorf("open event store readers: %w", err)
	}
	readers.SetMaxOpenConns(8)
	readers.SetMaxIdleConns(8)
	readers.SetConnMaxIdleTime(0)
	s.readers, s.stmts = readers, sqlitex.NewStmts(readers)
	if err := readers.PingContext(ctx); err != nil {
		s.Close() //nolint:errcheck // reporting the ping's error
		return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
	}
	s.streams.Store(&byNumber)
	if cfg.ReadOnly {
		s.streams.Store(&byName)
		if _, err := s.streamReads(ctx); err != nil {
			s.Close() //nolint:errcheck // reporting the read's error
			return nil, fmt.Errorf("open event store %s: %w", cfg.Path, err)
		}
	}
	return s, nil
}

// dsn builds the modernc.org/sqlite data source name. WAL lets readers run
// beside the writer, also from other processes; synchronous=FULL fsyncs the
// WAL on every commit, which is what makes an acknowledged append durable.
func dsn(path string, readOnly, mapped bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	if mapped {
		// Auditors' commands (a read-only store) read the log from end to
		// end: memory-mapped pages spare a read call per page. Not serve's
		// readers, whose file grows under them: a growing file is mapped
		// again and again, which costs more than it saves. As much as
		// SQLite maps (its SQLITE_MAX_MMAP_SIZE, 2 GB less 64 KB): with
		// 1 GB a million-event log migrated to schema 2, whose events sit
		// in the file's second half, read most of them a call a page.
		q.Add("_pragma", "mmap_size(2147418112)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", sqlitex.WriterCache)
		q.Add("_pragma", sqlitex.WriterCheckpoint)
		q.Set("vfs", sqlitex.WALVFS)
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// committed keeps a commit's events in the tail and wakes every
// subscription waiting for new events.
func (s *Store) committed(evs []eventstore.RecordedEvent) {
	s.tail.add(evs)
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedRevision, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if s.writer == nil {
		return eventstore.AppendResult{}, errors.New("append: event store opened read-only")
	}
	return s.writer.append(ctx, stream, expected, events)
}

// Close stops the writer (queued appends fail with ErrClosed) and closes
// the database.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = errors.Join(s.stmts.Close(), s.readers.Close(), s.closeWriter())
	})
	return err
}

func (s *Store) closeWriter() error {
	if s.writer == nil {
		return nil
	}
	return s.writer.close()
}
