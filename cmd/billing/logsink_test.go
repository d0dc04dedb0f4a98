package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestServeLogsWarningsAtOnceAndRequestsSoon: serve's request lines wait in
// memory; a warning goes out at once with every line before it, in order
// (also through a logger with attributes); stopping writes the rest.
func TestServeLogsWarningsAtOnceAndRequestsSoon(t *testing.T) {
	var out lockedBuffer
	sink := newLogSink(&out, time.Hour)
	log := slog.New(flushing{newHandler("text", sink), sink})

	log.Info("request", "n", 1)
	if got := out.String(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.With("part", "relay").Warn("nats disconnected")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "msg=request n=1") || !strings.Contains(lines[1], `msg="nats disconnected"`) {
		t.Fatalf("after a warning, stderr holds %q; want the request's line, then the warning", lines)
	}
	log.Info("request", "n", 2)
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(strings.TrimSpace(got), "msg=request n=2") {
		t.Fatalf("after Close, stderr ends with %q; want the last request's line", got)
	}
}

// TestServeLogsRequestsWithinTheInterval: an info line alone is written out
// by the sink's own flushing, with no warning or Close to push it.
func TestServeLogsRequestsWithinTheInterval(t *testing.T) {
	var out lockedBuffer
	sink := newLogSink(&out, time.Millisecond)
	defer sink.Close()
	slog.New(flushing{newHandler("json", sink), sink}).Info("request", "n", 1)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), `"msg":"request"`); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an info line was never written out")
		}
	}
}

// TestServeLogsAFullBufferAtOnce: lines past logFlushSize go out without
// waiting for the interval, and a writer that finds logHoldMax bytes
// waiting (stderr slower than the lines come) writes them out itself
// before it returns.
func TestServeLogsAFullBufferAtOnce(t *testing.T) {
	var out lockedBuffer
	sink := newLogSink(&out, time.Hour)
	defer sink.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for range logFlushSize / len(line) {
		sink.Write([]byte(line))
	}
	for deadline := time.Now().Add(10 * time.Second); out.Len() < logFlushSize; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes written out of %d buffered", out.Len(), logFlushSize)
		}
	}
	big := strings.Repeat("y", logHoldMax) + "\n"
	sink.Write([]byte(big))
	if !strings.HasSuffix(out.String(), big) {
		t.Fatal("a write past logHoldMax returned before the lines were written out")
	}
}

// TestServeLogsAfterItsSinkClosed: a line logged as serve exits (a handler
// still running) goes out at once, and closing twice is harmless.
func TestServeLogsAfterItsSinkClosed(t *testing.T) {
	var out lockedBuffer
	sink := newLogSink(&out, time.Hour)
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	slog.New(flushing{newHandler("text", sink), sink}).Info("late request")
	if !strings.Contains(out.String(), `msg="late request"`) {
		t.Fatalf("a line after Close was held back: stderr holds %q", out.String())
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}
