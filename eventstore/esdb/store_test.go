package esdb_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	client "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/esdb"
	"github.com/robotlabor/billing/eventstore/esdb/esdbtest"
	"github.com/robotlabor/billing/eventstore/storetest"
)

// server starts the protocol stand-in on a fresh embedded store.
func server(t testing.TB, opts ...esdbtest.Option) *esdbtest.Server {
	return esdbtest.New(t, opts...)
}

func open(t testing.TB, url string) *esdb.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := esdb.Open(ctx, esdb.Config{URL: url, RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the contract suite over gRPC against the in-process
// protocol server: the adapter, the official client and the protocol.
func TestContract(t *testing.T) {
	srv := server(t)
	storetest.Run(t, func(t *testing.T) eventstore.Store { return open(t, srv.URL()) })
}

// TestContractRetriesWithoutPosition: a server that answers a recognised
// retry without a position (the original not yet replicated, or a server
// before 20.x) still gives the port the original append's result.
func TestContractRetriesWithoutPosition(t *testing.T) {
	srv := server(t, esdbtest.RetriesWithoutPosition())
	storetest.Run(t, func(t *testing.T) eventstore.Store { return open(t, srv.URL()) })
}

// TestContractOnServer runs the suite against a real EventStoreDB or
// KurrentDB when BILLING_TEST_ESDB_URL names one (see docs/operations.md).
func TestContractOnServer(t *testing.T) {
	url := os.Getenv("BILLING_TEST_ESDB_URL")
	if url == "" {
		t.Skip("BILLING_TEST_ESDB_URL is not set; TestContract covers the protocol against the in-process server")
	}
	storetest.Run(t, func(t *testing.T) eventstore.Store { return open(t, url) })
}

func event(typ string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{"k":"v"}`)}
}

// rawClient talks to the server with the official client alone, to write
// what the port cannot: system events.
func rawClient(t *testing.T, url string) *client.Client {
	t.Helper()
	conf, err := esdb.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = client.NoopLogging()
	c, err := client.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSystemEventsAreNotTheLedgers: EventStoreDB writes its own $-typed
// events into $all; reads, Head and subscriptions skip them.
func TestSystemEventsAreNotTheLedgers(t *testing.T) {
	srv := server(t)
	s := open(t, srv.URL())
	ctx := context.Background()
	raw := rawClient(t, srv.URL())
	system := func() {
		t.Helper()
		_, err := raw.AppendToStream(ctx, "$stats-127.0.0.1:2113", client.AppendToStreamOptions{}, client.EventData{
			EventID: uuid.New(), EventType: "$statsCollected", ContentType: client.ContentTypeJson, Data: []byte(`{}`),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if h, err := s.Head(ctx); err != nil || h != eventstore.Start {
		t.Fatalf("Head of a log of system events = %d, %v; want Start", h, err)
	}
	sub, err := s.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	var want []uuid.UUID
	for range 3 {
		for range 70 { // more than a page of Head's backward read
			system()
		}
		ev := event("order.placed")
		if _, err := s.Append(ctx, "order-"+uuid.NewString(), eventstore.NoStream, ev); err != nil {
			t.Fatal(err)
		}
		want = append(want, ev.ID)
	}
	for range 70 {
		system()
	}

	all, err := s.ReadAll(ctx, eventstore.Start, 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("ReadAll = %d events, %v; want the 3 ledger events", len(all), err)
	}
	head, err := s.Head(ctx)
	if err != nil || head != all[2].Position {
		t.Fatalf("Head = %d, %v; want the last ledger event's %d", head, err, all[2].Position)
	}
	if rest, err := s.ReadAll(ctx, head, 10); err != nil || len(rest) != 0 {
		t.Fatalf("ReadAll after Head = %d events, %v; want none", len(rest), err)
	}
	var got []uuid.UUID
	for len(got) < 3 {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		evs, err := sub.Next(nctx)
		cancel()
		if err != nil {
			t.Fatalf("subscription after %d events: %v", len(got), err)
		}
		for _, e := range evs {
			if strings.HasPrefix(e.Type, "$") {
				t.Fatalf("subscription delivered system event %s", e.Type)
			}
			got = append(got, e.ID)
		}
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("subscription delivered %v, want %v", got, want)
		}
	}
}

// TestAppendOverTheMaximumSizeIsInvalid: EventStoreDB refuses appends over
// its maximum append size; the port calls that an invalid append, which
// retrying cannot fix.
func TestAppendOverTheMaximumSizeIsInvalid(t *testing.T) {
	s := open(t, server(t).URL())
	ev := event("large")
	ev.Data = []byte(`"` + strings.Repeat("x", esdbtest.MaxAppendSize) + `"`)
	_, err := s.Append(context.Background(), "large-"+uuid.NewString(), eventstore.NoStream, ev)
	if !errors.Is(err, eventstore.ErrInvalidAppend) {
		t.Fatalf("append over the maximum size: got %v, want ErrInvalidAppend", err)
	}
}

// TestSurvivesAServerRestart: a node that goes away and comes back is used
// again, and a subscription resumes after the last event it delivered:
// nothing lost, nothing twice.
func TestSurvivesAServerRestart(t *testing.T) {
	srv := server(t)
	s := open(t, srv.URL())
	ctx := context.Background()
	sub, err := s.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	stream := "order-" + uuid.NewString()
	var want []uuid.UUID
	appendOne := func() error {
		ev := event("order.paid")
		exp := eventstore.NoStream
		if len(want) > 0 {
			exp = eventstore.Exact(uint64(len(want) - 1))
		}
		if _, err := s.Append(ctx, stream, exp, ev); err != nil {
			return err
		}
		want = append(want, ev.ID)
		return nil
	}
	var got []uuid.UUID
	receive := func(n int) {
		t.Helper()
		for len(got) < n {
			nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			evs, err := sub.Next(nctx)
			cancel()
			if err != nil {
				t.Fatalf("subscription after %d of %d events: %v", len(got), n, err)
			}
			for _, e := range evs {
				got = append(got, e.ID)
			}
		}
	}
	for range 3 {
		if err := appendOne(); err != nil {
			t.Fatal(err)
		}
	}
	receive(3)

	srv.Stop()
	// While the node is down, calls fail, within their context's time.
	down, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Append(down, stream, eventstore.Exact(2), event("order.paid")); err == nil || errors.Is(err, eventstore.ErrConflict) {
		t.Fatalf("append while the node is down: got %v, want an unavailability error", err)
	}
	if _, err := s.Head(down); err == nil {
		t.Fatal("Head while the node is down succeeded")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := appendOne(); err != nil {
			t.Fatalf("append after the restart: %v", err)
		}
	}
	receive(6)
	if len(got) != len(want) {
		t.Fatalf("subscription delivered %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("subscription delivered %v, want %v", got, want)
		}
	}
	nctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if extra, err := sub.Next(nctx); err == nil {
		t.Fatalf("subscription delivered %d events more than were appended", len(extra))
	}
}

// TestClusterConnectionStrings: a cluster's seed list (discovery through
// gossip, one seed down) and KurrentDB's scheme both reach the node.
func TestClusterConnectionStrings(t *testing.T) {
	srv := server(t)
	for _, url := range []string{
		"esdb://127.0.0.1:1," + srv.Addr() + "?tls=false&maxDiscoverAttempts=3",
		"kurrentdb://" + srv.Addr() + "?tls=false",
	} {
		s := open(t, url)
		ev := event("e")
		res, err := s.Append(context.Background(), "cluster-"+uuid.NewString(), eventstore.NoStream, ev)
		if err != nil || res.Revision != 0 {
			t.Fatalf("%s: append = %+v, %v", url, res, err)
		}
	}
}

func TestBadConnectionStrings(t *testing.T) {
	for _, url := range []string{"http://localhost:2113", "esdb://", "esdb://host:port"} {
		if _, err := esdb.ParseURL(url); err == nil {
			t.Errorf("ParseURL(%q) accepted it", url)
		}
	}
}

// TestCallsWaitAtTheGateDuringAnOutage: while the node is down, calls wait
// for it without each leaving work behind in the client, give up with
// their context, and the store still closes promptly.
func TestCallsWaitAtTheGateDuringAnOutage(t *testing.T) {
	srv := server(t)
	s, err := esdb.Open(context.Background(), esdb.Config{URL: srv.URL(), RetryMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	before := runtime.NumGoroutine()
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		if _, err := s.Head(ctx); err == nil {
			t.Fatal("Head succeeded with the node down")
		}
		cancel()
	}
	if grown := runtime.NumGoroutine() - before; grown > 20 {
		t.Fatalf("200 calls during the outage left %d goroutines behind", grown)
	}
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close hung during the outage")
	}
	if _, err := s.Head(context.Background()); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("Head after Close: got %v, want ErrClosed", err)
	}
}

// TestOpenFailsWithoutANode: a wrong address fails Open within its bound.
func TestOpenFailsWithoutANode(t *testing.T) {
	srv := server(t)
	url := srv.URL()
	srv.Stop()
	_, err := esdb.Open(context.Background(), esdb.Config{URL: url, ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open succeeded with no node")
	}
}

// TestNextAfterCloseSaysClosed: a closed subscription answers ErrClosed,
// even with events still buffered.
func TestNextAfterCloseSaysClosed(t *testing.T) {
	s := open(t, server(t).URL())
	ctx := context.Background()
	for range 5 {
		if _, err := s.Append(ctx, "e-"+uuid.NewString(), eventstore.NoStream, event("e")); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := s.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	for range 20 {
		if _, err := sub.Next(ctx); !errors.Is(err, eventstore.ErrClosed) {
			t.Fatalf("Next after Close: got %v, want ErrClosed", err)
		}
	}
}

// TestCallsGoToTheLeader: a node that is not (or no longer) the leader
// refuses what requires the leader and names it; the adapter's calls
// require it (the client means to, but its header never leaves), so they
// end up on the leader instead of reading a follower's possibly stale
// copy. The stand-in follower's own log is empty of ledger events, so a
// call it served would show.
func TestCallsGoToTheLeader(t *testing.T) {
	leader := server(t)
	follower := server(t, esdbtest.FollowerOf(leader))
	ctx := context.Background()
	onLeader := open(t, leader.URL())
	ev := event("order.placed")
	stream := "order-" + uuid.NewString()
	if _, err := onLeader.Append(ctx, stream, eventstore.NoStream, ev); err != nil {
		t.Fatal(err)
	}

	s := open(t, follower.URL())
	got, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("read through the follower's address = %v, %v; want the leader's event", got, err)
	}
	res, err := s.Append(ctx, stream, eventstore.Exact(0), event("order.paid"))
	if err != nil || res.Revision != 1 {
		t.Fatalf("append through the follower's address = %+v, %v", res, err)
	}
	sub, err := s.SubscribeAll(ctx, eventstore.Start)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	evs, err := sub.Next(nctx)
	if err != nil || len(evs) == 0 || evs[0].ID != ev.ID {
		t.Fatalf("subscription through the follower's address = %d events, %v; want the leader's log", len(evs), err)
	}
}

// TestEverySubscriptionResumesAfterAnOutage: many subscriptions drop at
// once when the node goes away for longer than the client's discovery
// tries for; when it returns, every one of them resumes (none stays stuck
// inside the client that gave up) and calls are served at once.
func TestEverySubscriptionResumesAfterAnOutage(t *testing.T) {
	srv := server(t)
	ctx := context.Background()
	s := open(t, srv.URL()+"&maxDiscoverAttempts=3&discoveryInterval=50")
	const n = 16
	subs := make([]eventstore.Subscription, n)
	for i := range subs {
		sub, err := s.SubscribeAll(ctx, eventstore.Start)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs[i] = sub
	}
	srv.Stop()
	// An outage longer than the client's discovery (3 tries, 50 ms
	// apart): what is checked below does not depend on its length.
	time.Sleep(1500 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	ev := event("order.placed")
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := s.Append(actx, "order-"+uuid.NewString(), eventstore.NoStream, ev); err != nil {
		t.Fatalf("append after the outage: %v", err)
	}
	for i, sub := range subs {
		nctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		evs, err := sub.Next(nctx)
		cancel()
		if err != nil || len(evs) != 1 || evs[0].ID != ev.ID {
			t.Fatalf("subscription %d after the outage: %d events, %v; want the new event", i, len(evs), err)
		}
	}
}

// TestAPositionOfAnotherLog: a position where no event starts (a
// checkpoint kept across a restored or replaced cluster) is no event for
// ReadEvent, and ends a subscription with the error instead of retrying it
// forever.
func TestAPositionOfAnotherLog(t *testing.T) {
	s := open(t, server(t).URL())
	ctx := context.Background()
	res, err := s.Append(ctx, "order-"+uuid.NewString(), eventstore.NoStream, event("order.placed"))
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := res.Position + 1 // inside the event's record: no event starts there
	if _, err := s.ReadEvent(ctx, elsewhere); !errors.Is(err, eventstore.ErrEventNotFound) {
		t.Fatalf("ReadEvent at a position inside a record: got %v, want ErrEventNotFound", err)
	}
	if err := eventstore.VerifyCheckpoint(ctx, s, elsewhere); !errors.Is(err, eventstore.ErrForeignCheckpoint) {
		t.Fatalf("VerifyCheckpoint: got %v, want ErrForeignCheckpoint", err)
	}
	sub, err := s.SubscribeAll(ctx, elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := sub.Next(nctx); err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("subscription from a position of another log: got %v, want the server's refusal", err)
	}
}
