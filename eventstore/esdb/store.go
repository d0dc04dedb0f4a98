package esdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// FailoverWait bounds how long a call waits for an unreachable node
	// (a restart, a leader election) before failing. Default 10s.
	FailoverWait time.Duration
	// RetryMin and RetryMax bound the pause between attempts to reach an
	// unreachable node, and between a dropped subscription's attempts to
	// resubscribe. Defaults 50ms and 5s.
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
	cfg  Config
	conf *esdb.Configuration
	log  *slog.Logger

	closing context.Context // ends when Close is called
	close   context.CancelFunc
	once    sync.Once

	mu   sync.Mutex
	conn *conn          // the client in use
	down chan struct{}  // non-nil while the node is unreachable; closed when it answers
	bg   sync.WaitGroup // the recovery goroutine
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
	if cfg.FailoverWait <= 0 {
		cfg.FailoverWait = 10 * time.Second
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
	s := &Store{cfg: cfg, conf: conf, log: log}
	s.closing, s.close = context.WithCancel(context.Background())
	if s.conn, err = s.newConn(); err != nil {
		return nil, err
	}
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

// closeWait bounds how long Close waits for calls under way.
const closeWait = 5 * time.Second

// Close ends the store: calls and subscriptions fail with ErrClosed. The
// client is closed once the calls under way have returned (closing it
// earlier would crash them inside the client); Close waits for that up to
// a few seconds and otherwise leaves it to happen in the background.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.close()
		c := s.conn
		s.mu.Unlock()
		drained := make(chan struct{})
		go func() {
			s.bg.Wait()
			c.inflight.Wait()
			close(drained)
		}()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-drained:
			c.client.Close()
		case <-t.C:
			s.log.Warn("EventStoreDB calls still under way at close; the connection closes when they return")
			go func() {
				<-drained
				c.client.Close()
			}()
		}
	})
	return nil
}

func (s *Store) isClosed() bool { return s.closing.Err() != nil }

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

// code is the client's error code of err, ErrorCodeUnknown if none.
func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return esdb.ErrorCodeUnknown
}

// invalidPosition reports a read refused because no event starts at its
// position (a checkpoint of another log, or of a store restored from an
// older backup): KurrentDB answers "Trying to read from an invalid
// position", the stand-in InvalidArgument.
func invalidPosition(err error) bool {
	return err != nil && (invalidArgument(err) || strings.Contains(strings.ToLower(err.Error()), "invalid position"))
}

// invalidArgument reports a request the server refused as malformed, such
// as an append over its maximum append size.
func invalidArgument(err error) bool {
	return status.Code(err) == codes.InvalidArgument
}
