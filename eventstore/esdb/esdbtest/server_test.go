package esdbtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore/esdb/esdbtest"
)

// These tests hold the stand-in to EventStoreDB's documented behaviour
// through the official client alone, without the adapter.

func start(t *testing.T) *esdb.Client {
	t.Helper()
	srv := esdbtest.New(t)
	conf, err := esdb.ParseConnectionString(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func events(n int) []esdb.EventData {
	evs := make([]esdb.EventData, n)
	for i := range evs {
		evs[i] = esdb.EventData{EventID: uuid.New(), EventType: "e", ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
	}
	return evs
}

func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return -1
}

// TestIdempotency: EventStoreDB's table for a definite expected revision.
// The same ids at the same expected revision: success, nothing written,
// the original's position. The first id matching but not all: wrong expected version.
func TestIdempotency(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	evs := events(2)
	first, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, evs...)
	if err != nil || first.NextExpectedVersion != 1 || first.CommitPosition == 0 {
		t.Fatalf("first append = %+v, %v", first, err)
	}
	again, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, evs...)
	if err != nil || again.NextExpectedVersion != 1 || again.CommitPosition != first.CommitPosition {
		t.Fatalf("retry = %+v, %v; want revision 1 at the first append's position %d", again, err, first.CommitPosition)
	}
	partial := append(evs[:1:1], events(1)...)
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}, partial...); code(err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("partial retry: got %v, want WrongExpectedVersion", err)
	}
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(0)}, events(1)...); code(err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("stale revision: got %v, want WrongExpectedVersion", err)
	}
	rs, err := c.ReadStream(ctx, "s", esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	n := 0
	for ; ; n++ {
		ev, err := rs.Recv()
		if err != nil {
			break
		}
		if ev.Event.CreatedDate.IsZero() || ev.Event.Position.Commit == 0 {
			t.Fatalf("event without created date or position: %+v", ev.Event)
		}
	}
	if n != 2 {
		t.Fatalf("stream holds %d events, want 2", n)
	}
}

func TestStreamNotFound(t *testing.T) {
	c := start(t)
	rs, err := c.ReadStream(context.Background(), "missing", esdb.ReadStreamOptions{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if _, err := rs.Recv(); code(err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("reading a missing stream: got %v, want ResourceNotFound", err)
	}
}

// TestSubscriptionMessages: a filtered $all subscription is confirmed,
// skips system events, says when it has caught up, and sends a checkpoint
// every window × multiplier events read.
func TestSubscriptionMessages(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, events(3)...); err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter(), MaxSearchWindow: 2, CheckpointInterval: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.Id() == "" {
		t.Fatal("no subscription id: the confirmation is missing")
	}
	recv := func() *esdb.SubscriptionEvent {
		t.Helper()
		got := make(chan *esdb.SubscriptionEvent, 1)
		go func() { got <- sub.Recv() }()
		select {
		case ev := <-got:
			if ev.SubscriptionDropped != nil {
				t.Fatalf("dropped: %v", ev.SubscriptionDropped.Error)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no message from the subscription")
			return nil
		}
	}
	// The log: 3 system events the server starts with, then 3 events.
	// With a checkpoint every 4 events read: events 1..3, a checkpoint
	// after the 4th read (the first event), caught up after the last.
	var seq []string
	for len(seq) == 0 || seq[len(seq)-1] != "caught-up" {
		switch ev := recv(); {
		case ev.EventAppeared != nil:
			if ev.EventAppeared.Event.EventType != "e" {
				t.Fatalf("filtered subscription delivered %s", ev.EventAppeared.Event.EventType)
			}
			seq = append(seq, "event")
		case ev.CheckPointReached != nil:
			seq = append(seq, "checkpoint")
		case ev.CaughtUp != nil:
			seq = append(seq, "caught-up")
		}
	}
	want := []string{"event", "checkpoint", "event", "event", "caught-up"}
	if len(seq) != len(want) {
		t.Fatalf("subscription sent %v, want %v", seq, want)
	}
	for i := range want {
		if seq[i] != want[i] {
			t.Fatalf("subscription sent %v, want %v", seq, want)
		}
	}
	// Live: a new event arrives after caught-up.
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, events(1)...); err != nil {
		t.Fatal(err)
	}
	if ev := recv(); ev.EventAppeared == nil {
		t.Fatalf("live: got %+v, want the new event", ev)
	}
}

// TestPositions: a forward read of $all from an event's position starts
// with that event; a subscription from it starts after it.
func TestPositions(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	evs := events(2)
	res, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, evs...)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.ReadStream(ctx, "s", esdb.ReadStreamOptions{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, err := rs.Recv()
	rs.Close()
	if err != nil {
		t.Fatal(err)
	}
	at := first.Event.Position
	if at.Commit != at.Prepare || at.Commit >= res.CommitPosition {
		t.Fatalf("first event at %+v, append's last at %d", at, res.CommitPosition)
	}
	all, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: at}, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := all.Recv()
	all.Close()
	if err != nil || got.Event.EventID != evs[0].EventID {
		t.Fatalf("read $all from the first event's position: got %+v, %v; want that event", got, err)
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: at})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if ev := sub.Recv(); ev.EventAppeared == nil || ev.EventAppeared.Event.EventID != evs[1].EventID {
		t.Fatalf("subscription from the first event's position: got %+v, want the second event", ev)
	}
}
