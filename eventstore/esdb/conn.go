package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/robotlabor/billing/eventstore"
	"google.golang.org/grpc/metadata"
)

// How calls reach the server, around two defects of the v4.2.0 client:
//
//   - When a discovery runs out of attempts the client closes itself for
//     good, and a call that asked for a connection during that discovery
//     waits forever on a request nobody reads (and panics if the client is
//     closed meanwhile). So while the node is unreachable, calls do not go
//     to the client: they wait at a gate (s.down), bounded by their context
//     and Config.FailoverWait, while one goroutine probes the node through
//     a fresh client of its own, that nobody else uses. When the node
//     answers, that client replaces the old one, and calls still stuck in
//     the old one are released (conn.retired) to try again.
//   - It attaches "requires-leader" to the wrong side of the context, so
//     the header is never sent and a node that lost the leadership goes on
//     serving stale reads. Calls carry the header themselves, so such a
//     node answers "not leader" and the client reconnects to the leader.

// conn is one client and the calls under way on it.
type conn struct {
	client   *esdb.Client
	inflight sync.WaitGroup
	retired  chan struct{} // closed when another client replaces this one
}

func (s *Store) newConn() (*conn, error) {
	client, err := esdb.NewClient(s.conf)
	if err != nil {
		return nil, fmt.Errorf("EventStoreDB client: %w", err)
	}
	return &conn{client: client, retired: make(chan struct{})}, nil
}

// closeWhenIdle closes c's client once no call is under way on it: at
// once, or never if a call is stuck in it for good (closing would crash
// that call).
func (c *conn) closeWhenIdle() {
	go func() {
		c.inflight.Wait()
		c.client.Close()
	}()
}

// errUnavailable: the node did not answer within Config.FailoverWait.
var errUnavailable = errors.New("esdb: EventStoreDB unreachable")

// acquire returns the client to call, once the node is reachable, and
// counts the call as under way on it.
func (s *Store) acquire(ctx context.Context) (*conn, error) {
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		if s.isClosed() {
			s.mu.Unlock()
			return nil, eventstore.ErrClosed
		}
		if s.down == nil {
			c := s.conn
			c.inflight.Add(1)
			s.mu.Unlock()
			return c, nil
		}
		down := s.down
		s.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(s.cfg.FailoverWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-down:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closing.Done():
			return nil, eventstore.ErrClosed
		case <-timeout:
			return nil, fmt.Errorf("%w for %s", errUnavailable, s.cfg.FailoverWait)
		}
	}
}

// call runs fn with the client and returns when fn does, ctx ends or the
// store closes. fn gets a context that also ends at Close; when keep is
// set and fn succeeds, that context lives on with what fn returned (a
// subscription) until ctx ends. fn must not touch the caller's variables:
// an abandoned fn may still be running.
func call[T any](ctx context.Context, s *Store, keep bool, fn func(context.Context, *esdb.Client) (T, error)) (T, error) {
	var zero T
	c, err := s.acquire(ctx)
	if err != nil {
		return zero, err
	}
	cctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "requires-leader", "true"))
	stop := context.AfterFunc(s.closing, cancel)
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer c.inflight.Done()
		v, err := fn(cctx, c.client)
		stop()
		if !keep || err != nil {
			cancel()
		}
		if unreachable(err) && ctx.Err() == nil {
			s.markDown(c, err)
		}
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.closing.Done():
		return zero, eventstore.ErrClosed
	case <-c.retired:
		return zero, fmt.Errorf("%w: its client was replaced during the call", errUnavailable)
	}
}

// unreachable reports an error that says the node cannot be reached (as
// opposed to an answer from it).
func unreachable(err error) bool {
	switch code(err) {
	case esdb.ErrorUnavailable, esdb.ErrorCodeConnectionClosed, esdb.ErrorCodeDeadlineExceeded:
		return true
	}
	return false
}

// retryable reports an error after which one more try, on the connection
// the client or the gate provides next, may well succeed: the node was
// unreachable or not the leader, or it timed out a write (Aborted) that it
// may or may not have committed.
func retryable(err error) bool {
	switch code(err) {
	case esdb.ErrorCodeNotLeader, esdb.ErrorAborted:
		return true
	}
	return unreachable(err) || errors.Is(err, errUnavailable)
}

// markDown shuts the gate after client c failed to reach the node, and
// starts the goroutine that opens it again.
func (s *Store) markDown(c *conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil || s.conn != c || s.isClosed() {
		return
	}
	s.log.Warn("EventStoreDB unreachable; calls wait for it", "err", err)
	s.down = make(chan struct{})
	s.bg.Add(1)
	go s.reconnect()
}

// probeWait bounds one probe, in case its client blocks past its own
// discovery attempts.
const probeWait = 30 * time.Second

// reconnect probes the node, each round through a fresh client, until it
// answers; then that client replaces the old one and the gate opens.
func (s *Store) reconnect() {
	defer s.bg.Done()
	pause := s.cfg.RetryMin
	for {
		fresh, err := s.newConn()
		if err == nil {
			err = s.probe(fresh)
		}
		if err == nil {
			s.mu.Lock()
			if s.isClosed() {
				s.mu.Unlock()
				fresh.closeWhenIdle()
				return
			}
			old := s.conn
			s.conn = fresh
			close(s.down)
			s.down = nil
			s.mu.Unlock()
			close(old.retired)
			old.closeWhenIdle()
			s.log.Info("EventStoreDB reachable again")
			return
		}
		if fresh != nil {
			fresh.closeWhenIdle()
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-s.closing.Done():
			t.Stop()
			return
		}
		pause = min(2*pause, s.cfg.RetryMax)
	}
}

var errProbeStuck = errors.New("esdb: probe got no answer")

// probe reads the last event of $all through c, its only caller. A node
// that answers "not leader" is reachable: the client has moved to the
// leader it named.
func (s *Store) probe(c *conn) error {
	c.inflight.Add(1)
	done := make(chan error, 1)
	go func() {
		defer c.inflight.Done()
		ctx := metadata.AppendToOutgoingContext(s.closing, "requires-leader", "true")
		rs, err := c.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
		if err == nil {
			_, err = rs.Recv()
			rs.Close()
			if errors.Is(err, io.EOF) || code(err) == esdb.ErrorCodeNotLeader {
				err = nil
			}
		}
		done <- err
	}()
	t := time.NewTimer(probeWait)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errProbeStuck
	case <-s.closing.Done():
		return eventstore.ErrClosed
	}
}
