package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/robotlabor/billing/internal/sqlitex"
	"github.com/robotlabor/billing/payments"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no C compiler needed
)

// Errors the sandbox returns besides payments.ErrNotFound. Both are definite
// refusals: retrying the same request cannot succeed.
var (
	// ErrInvalidRequest: a required field is missing or a value is out of
	// its allowed form (Stripe: 400 invalid_request_error).
	ErrInvalidRequest = fmt.Errorf("sandbox: %w", payments.ErrInvalidRequest)
	// ErrIdempotencyKeyReused: the key was first used with other parameters
	// or for another call (Stripe: 400 idempotency_error).
	ErrIdempotencyKeyReused = fmt.Errorf("sandbox: idempotency key reused with different parameters: %w", payments.ErrInvalidRequest)
)

// Config configures a sandbox.
type Config struct {
	// Path of the SQLite file (WAL, synchronous=FULL), e.g. $DATA_DIR/sandbox.db;
	// created with its directory if missing.
	Path string
	// PublicURL is the base of the page URLs handed to browsers, e.g.
	// http://127.0.0.1:8080; the page lives under PublicURL + "/sandbox/".
	PublicURL string
	// SessionTTL is a setup session's lifetime. Default 24h, like Stripe Checkout.
	SessionTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnSetupCompleted receives each completed setup session (like a Stripe
	// webhook). It is called after the completion is durably recorded; a
	// delivery that returns an error is retried by Run until it succeeds.
	// Receivers deduplicate by ProviderEventID. Required.
	OnSetupCompleted func(ctx context.Context, e payments.SetupCompleted) error
	// RetryInterval is Run's first wait before redelivering a failed
	// completion; it doubles on each failing round up to a minute (or to
	// RetryInterval if that is longer). Default 1s.
	RetryInterval time.Duration
	// Logger reports failed deliveries. Default: discards.
	Logger *slog.Logger
}

const (
	defaultSessionTTL    = 24 * time.Hour
	defaultRetryInterval = time.Second
	maxRetryInterval     = time.Minute
	// cachedCards bounds the saved cards kept in memory for charges.
	cachedCards = 10000
	// deliveryTimeout bounds one OnSetupCompleted call made by the page.
	deliveryTimeout = 10 * time.Second
)

// Validate reports a missing or malformed field (wrapping ErrInvalidRequest)
// and fills in the defaults of the optional ones.
func (c *Config) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("sandbox config: Path is required: %w", ErrInvalidRequest)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("sandbox config: PublicURL %q must be an absolute http(s) URL: %w", c.PublicURL, ErrInvalidRequest)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.OnSetupCompleted == nil {
		return fmt.Errorf("sandbox config: OnSetupCompleted is required: %w", ErrInvalidRequest)
	}
	if c.SessionTTL < 0 || c.RetryInterval < 0 {
		return fmt.Errorf("sandbox config: SessionTTL and RetryInterval must not be negative: %w", ErrInvalidRequest)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = defaultSessionTTL
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = defaultRetryInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Sandbox is the embedded payment provider. It is safe for concurrent use.
type Sandbox struct {
	cfg    Config
	db     *sql.DB
	writes *sqlitex.Batch // the provider calls' writes, group-committed
	cards  *lru.Cache[string, savedCard]
	page   *template.Template

	mu       sync.Mutex
	inflight map[string]chan struct{} // outbox event id → closed when its delivery attempt ends
}

// Open opens (creating if needed) the sandbox's database at cfg.Path and
// migrates its schema. Errors: a config error wrapping ErrInvalidRequest, or
// the database's.
func Open(ctx context.Context, cfg Config) (*Sandbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	if err := sqlitex.RegisterWALVFS(); err != nil {
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(cfg.Path))
	if err != nil {
		return nil, fmt.Errorf("open sandbox %s: %w", cfg.Path, err)
	}
	// One connection serializes every transaction of this process, so
	// check-then-write (idempotency keys, session completion) stays simple
	// and correct; the provider calls share transactions (group commit),
	// since every order is one.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := sqlitex.Migrate(ctx, db, "sandbox", migrations); err != nil {
		db.Close() //nolint:errcheck // reporting the migration's error
		return nil, fmt.Errorf("open sandbox %s: %w", cfg.Path, err)
	}
	cards, err := lru.New[string, savedCard](cachedCards)
	if err != nil {
		db.Close() //nolint:errcheck // reporting the cache's error
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	page, err := parsePage()
	if err != nil {
		db.Close() //nolint:errcheck // reporting the template's error
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	return &Sandbox{
		cfg:      cfg,
		db:       db,
		writes:   sqlitex.NewBatch(db, 256, sqlitex.DefaultLinger),
		cards:    cards,
		page:     page,
		inflight: make(map[string]chan struct{}),
	}, nil
}

// Close closes the database. Stop Run and the HTTP server first.
func (s *Sandbox) Close() error {
	s.writes.Close()
	return s.db.Close()
}

// Name is the provider's name in configuration and logs.
func (s *Sandbox) Name() string { return "sandbox" }

func (s *Sandbox) now() time.Time { return s.cfg.Now().UTC() }
