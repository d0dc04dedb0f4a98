package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// logFlushEvery bounds how long serve keeps a log line at Info in memory.
const logFlushEvery = 100 * time.Millisecond

// logSink is serve's stderr behind a buffer. Serve logs a line per request,
// and a write system call per line was 4% of a page's CPU under load
// (docs/performance-log.md, eighth session). A line at Warn or above is
// written at once, with every line before it (see flushing); the others
// within flushEvery, or as soon as logFlushSize bytes wait. The writes to
// stderr happen on the sink's goroutine (or the Flush caller's), never
// under the lock the request goroutines take to add a line. A crash (kill
// -9, or a panic, whose trace the runtime writes to stderr directly) may
// lose the last flushEvery of Info lines, as a buffered access log does
// (nginx's access_log buffer=, flush=); Close writes what is left.
type logSink struct {
	out io.Writer

	mu  sync.Mutex
	buf []byte // lines not yet handed to out

	outMu sync.Mutex // held across a write to out: lines leave in order
	spare []byte     // the buffer written last, reused; under outMu

	kick   chan struct{} // logFlushSize bytes wait
	stop   chan struct{}
	done   chan struct{}
	closed atomic.Bool // Close began: lines go out as they come
}

// logFlushSize is how many bytes of lines wake the flushing early;
// logHoldMax, how many a line's writer waits for a write to out rather
// than add to (stderr is slower than the lines come).
const (
	logFlushSize = 64 << 10
	logHoldMax   = 4 << 20
)

// newLogSink buffers out, writing it out every flushEvery until Close.
func newLogSink(out io.Writer, flushEvery time.Duration) *logSink {
	s := &logSink{out: out, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(flushEvery)
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf = append(s.buf, p...)
	n := len(s.buf)
	s.mu.Unlock()
	switch {
	case n >= logHoldMax || s.closed.Load():
		return len(p), s.Flush()
	case n >= logFlushSize:
		select {
		case s.kick <- struct{}{}:
		default: // a flush is due already
		}
	}
	return len(p), nil
}

// Flush writes out what is buffered, after every line buffered before it.
func (s *logSink) Flush() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.mu.Lock()
	lines := s.buf
	s.buf = s.spare[:0]
	s.mu.Unlock()
	s.spare = lines
	if len(lines) == 0 {
		return nil
	}
	_, err := s.out.Write(lines)
	return err
}

func (s *logSink) run(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-s.kick:
		case <-s.stop:
			return
		}
		s.Flush() //nolint:errcheck // stderr is gone: there is nowhere to report it
	}
}

// Close stops the flushing and writes out what is left; a line written
// after it (a handler still running as serve exits) goes out at once.
// Closing again does nothing more.
func (s *logSink) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		close(s.stop)
		<-s.done
	}
	return s.Flush()
}

// flushing is a handler writing to a logSink that writes a record at Warn
// or above out at once: warnings and errors are not held back, nor lost in
// a crash that follows them.
type flushing struct {
	slog.Handler
	sink *logSink
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.sink.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushing) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushing{h.Handler.WithAttrs(attrs), h.sink}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{h.Handler.WithGroup(name), h.sink}
}
