package esdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/robotlabor/billing/eventstore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config configures the store.
type Config struct {
	// URL is an EventStoreDB connection string: esdb://host:2113?tls=false,
	// a cluster's esdb://a:2113,b:2113,c:2113, esdb+discover://… for DNS
	// discovery, or the same with kurrentdb in place of esdb.
	URL string
	// Logger receives reconnections; the client's own log goes to it at
	// debug level. Default: slog.Default().
	Logger *slog.Logger
	// ConnectTimeout bounds Open's wait for a first answer. Default 30s.
	ConnectTimeout time.Duration
	// RetryMin and RetryMax bound the pause between a dropped
	// subscription's attempts to resubscribe. Defaults 50ms and 5s.
	RetryMin, RetryMax time.Duration
}

// kurrentSchemes are KurrentDB's names for the schemes the client knows.
var kurrentSchemes = map[string]string{
	"kurrentdb://":          "esdb://",
	"kurrentdb+discover://": "esdb+discover://",
	"kdb://":                "esdb://",
	"kdb+discover://":       "esdb+discover://",
}

// ParseURL checks a connection string and returns the client's
// configuration for it.
func ParseURL(url string) (*esdb.Configuration, error) {
	for from, to := range kurrentSchemes {
		if rest, ok := strings.CutPrefix(url, from); ok {
			url = to + rest
			break
		}
	}
	conf, err := esdb.ParseConnectionString(url)
	if err != nil {
		return nil, fmt.Errorf("EventStoreDB connection string: %w", err)
	}
	if err := conf.Validate(); err != nil {
		return nil, fmt.Errorf("EventStoreDB connection string: %w", err)
	}
	return conf, nil
}

// Store is the EventStoreDB event store. It is safe for concurrent use.
type Store struct {
	cfg    Config
	log    *slog.Logger
	client *esdb.Client

	mu       sync.Mutex // guards closing against entering calls
	inflight sync.WaitGroup
	closed   chan struct{}
	once     sync.Once
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to the server or cluster at cfg.URL and checks it answers
// a read of $all, so a wrong address or missing permission fails here.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	conf, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 50 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(5*time.Second, cfg.RetryMin)
	}
	log := cfg.Logger.With("component", "eventstore-esdb")
	conf.Logger = func(level esdb.LogLevel, format string, args ...any) {
		log.Debug(fmt.Sprintf(format, args...), "client_level", level)
	}
	// The client closes itself for good when a discovery runs out of
	// attempts, and a call made during that discovery then waits forever
	// on a connection request nobody reads. So discovery never gives up;
	// calls bound their wait by their context instead (see call).
	conf.MaxDiscoverAttempts = math.MaxInt32
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("EventStoreDB client: %w", err)
	}
	s := &Store{cfg: cfg, log: log, client: client, closed: make(chan struct{})}
	hctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if _, err := s.Head(hctx); err != nil {
		s.Close()
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", cfg.ConnectTimeout)
		}
		return nil, fmt.Errorf("open EventStoreDB: %w", err)
	}
	return s, nil
}

// Close ends the store: calls and subscriptions fail with ErrClosed. The
// connection closes once calls under way have returned; closing it
// earlier would crash them inside the client.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closed)
		s.mu.Unlock()
		go func() {
			s.inflight.Wait()
			s.client.Close()
		}()
	})
	return nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// call runs fn with the client and returns when fn does or ctx ends.
// While the client rediscovers a node its calls wait without regard to
// their context; fn's own requests use ctx, so a fn abandoned here fails
// fast once a node answers. fn must not touch the caller's variables.
func call[T any](ctx context.Context, s *Store, fn func(*esdb.Client) (T, error)) (T, error) {
	var zero T
	s.mu.Lock()
	if s.isClosed() {
		s.mu.Unlock()
		return zero, eventstore.ErrClosed
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer s.inflight.Done()
		v, err := fn(s.client)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.closed:
		return zero, eventstore.ErrClosed
	}
}

// settle translates a client error at the border: the store's own closing
// is ErrClosed, a context's end is the context's error, anything else is
// wrapped with op.
func (s *Store) settle(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if s.isClosed() {
		return eventstore.ErrClosed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("esdb %s: %w", op, err)
}

// reconnected reports an error after which the client connects anew (the
// node was unavailable), so that trying once more may well succeed.
func reconnected(err error) bool {
	return code(err) == esdb.ErrorUnavailable
}

// code is the client's error code of err, ErrorCodeUnknown if none.
func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return esdb.ErrorCodeUnknown
}

// invalidArgument reports a request the server refused as malformed, such
// as an append over its maximum append size.
func invalidArgument(err error) bool {
	return status.Code(err) == codes.InvalidArgument
}
