package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logFlushEvery bounds how long serve keeps a log line at Info in memory.
const logFlushEvery = 100 * time.Millisecond

// logSink is serve's stderr behind a buffer. Serve logs a line per request,
// and a write system call per line was 4% of a page's CPU under load
// (docs/performance-log.md, eighth session). A line at Warn or above is
// written at once, with every line before it (see flushing); the others
// within flushEvery, or as soon as 64 KB wait. A crash may lose the last
// flushEvery of Info lines, as a buffered access log does (nginx's
// access_log buffer=, flush=); Close writes what is left.
type logSink struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// newLogSink buffers out, writing it out every flushEvery until Close.
func newLogSink(out io.Writer, flushEvery time.Duration) *logSink {
	s := &logSink{w: bufio.NewWriterSize(out, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run(flushEvery)
	return s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Flush writes out what is buffered.
func (s *logSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Flush()
}

func (s *logSink) run(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.Flush() //nolint:errcheck // stderr is gone: there is nowhere to report it
		case <-s.stop:
			return
		}
	}
}

// Close stops the flushing and writes out what is left.
func (s *logSink) Close() error {
	close(s.stop)
	<-s.done
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
