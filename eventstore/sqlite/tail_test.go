package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
)

// TestSubscriptionsGetWhatTheFileHolds: a subscription hands out exactly
// the events a read of the file returns, in log order, none twice and none
// missing, whether they were committed by this process (served from
// memory) or by another one on the same file (a second instance), whether
// a commit failed in between, and whatever the appender does with its
// buffers afterwards. Each subscriber owns the bytes it is given.
func TestSubscriptionsGetWhatTheFileHolds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	a := open(t, sqlite.Config{Path: path})
	b := open(t, sqlite.Config{Path: path}) // another instance
	sub, err := a.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	failInserts(t, path, "boom")

	withMeta := func(meta []byte) eventstore.EventData {
		e := event("m")
		e.Metadata = meta
		return e
	}
	mustAppend := func(s *sqlite.Store, stream string, evs ...eventstore.EventData) {
		t.Helper()
		if _, err := s.Append(ctx, stream, eventstore.NoStream, evs...); err != nil {
			t.Fatalf("append to %s: %v", stream, err)
		}
	}
	var got []eventstore.RecordedEvent
	scribbled := map[int]bool{}
	// drain takes what the subscription has up to the log's head, as a
	// subscriber that keeps up does.
	drain := func() {
		t.Helper()
		head, err := a.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for len(got) == 0 || got[len(got)-1].Position < head {
			evs, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			scribbled[len(got)] = true
			got = append(got, evs...)
			evs[0].Data[0] = 'X' // this subscriber's own copy
		}
	}
	reused := []byte(`{"n":1}`)
	mustAppend(a, "a-1", eventstore.EventData{ID: event("e").ID, Type: "e", Data: reused})
	copy(reused, `{"n":2}`) // the appender reuses its buffer
	drain()
	mustAppend(b, "b-1", event("e"), event("e"))
	drain()
	empty := event("e")
	empty.Data = []byte{}
	mustAppend(a, "a-2", withMeta(nil), withMeta([]byte{}), withMeta([]byte(`{"k":"v"}`)), empty)
	drain()
	if _, err := a.Append(ctx, "boom", eventstore.NoStream, event("e")); err == nil {
		t.Fatal("an append the database failed succeeded")
	}
	var wg sync.WaitGroup // a group commit of many appends
	for i := range 20 {
		wg.Go(func() { mustAppend(a, fmt.Sprintf("a-many-%d", i), event("e"), event("f")) })
	}
	wg.Wait()
	drain()
	mustAppend(b, "b-2", event("e"))
	mustAppend(a, "a-3", event("e"))
	drain()

	want, err := a.ReadAll(ctx, eventstore.Start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 1+2+4+40+1+1 {
		t.Fatalf("the file holds %d events", len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("subscription delivered %d events, the file holds %d", len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if scribbled[i] && len(g.Data) > 0 {
			g.Data = append([]byte{'{'}, g.Data[1:]...)
		}
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	if string(want[0].Data) != `{"n":1}` {
		t.Errorf("first event's data %s, want what was appended", want[0].Data)
	}

	// A second subscriber sees none of the first one's scribbles.
	again, err := a.SubscribeAll(ctx, want[len(want)-2].Position)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	evs, err := again.Next(ctx)
	if err != nil || len(evs) != 1 || !reflect.DeepEqual(evs[0], want[len(want)-1]) {
		t.Fatalf("a second subscription got %+v, %v; want %+v", evs, err, want[len(want)-1])
	}
}
