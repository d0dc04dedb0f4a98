package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/relay"
)

type env struct {
	store    *sqlite.Store
	srv      *relay.Server
	storeDir string
	listen   string
	js       jetstream.JetStream
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, storeDir: filepath.Join(dir, "nats"), listen: "127.0.0.1:0"}
	e.startNATS(t)
	_, port, _ := net.SplitHostPort(e.srv.ClientURL()[len("nats://"):])
	e.listen = "127.0.0.1:" + port
	nc, err := nats.Connect(e.srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if e.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) startNATS(t testing.TB) {
	t.Helper()
	srv, err := relay.StartServer(e.listen, e.storeDir)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	t.Cleanup(srv.Shutdown)
}

// run starts a relay and returns its stop function.
func (e *env) run(t testing.TB) (*relay.Relay, func()) {
	t.Helper()
	r, err := relay.New(relay.Config{Store: e.store, JetStream: e.js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("relay: %v", err)
		}
	}
}

// appendEvents appends n events across a few streams from several writers.
func (e *env) appendEvents(t testing.TB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				ev := eventstore.EventData{ID: uuid.New(), Type: "order.placed", Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Metadata: []byte(`{"user_id":"u"}`)}
				if _, err := e.store.Append(context.Background(), fmt.Sprintf("order-%d", i%7), eventstore.Any, ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// caughtUp waits until r has published the whole log (bounded hang guard).
func (e *env) caughtUp(t testing.TB, r *relay.Relay) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		head, _ := e.store.Head(context.Background())
		if r.Position() >= head {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay at %d, log head at %d", r.Position(), head)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamMatchesLog checks the BILLING stream holds every event of the log
// exactly once, in log order, as events.md describes the messages.
func (e *env) streamMatchesLog(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	var log []eventstore.RecordedEvent
	for pos := eventstore.Start; ; {
		evs, err := e.store.ReadAll(ctx, pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		log = append(log, evs...)
		pos = evs[len(evs)-1].Position
	}
	stream, err := e.js.Stream(ctx, "BILLING")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(log)) {
		t.Fatalf("stream holds %d messages, the log %d events", info.State.Msgs, len(log))
	}
	for i, ev := range log {
		msg, err := stream.GetMsg(ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		var m relay.Message
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.ID != ev.ID.String() || msg.Header.Get("Nats-Msg-Id") != m.ID || msg.Subject != "billing."+ev.Type ||
			m.Position != uint64(ev.Position) || m.Stream != ev.Stream || m.Revision != ev.Revision || string(m.Data) != string(ev.Data) {
			t.Fatalf("message %d = %s %s (id header %s, position %d); log has %s at %d", i, msg.Subject, m.ID, msg.Header.Get("Nats-Msg-Id"), m.Position, ev.ID, ev.Position)
		}
	}
}

func TestEveryEventOnceInLogOrder(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t, 300)
	r, stop := e.run(t)
	defer stop()
	e.appendEvents(t, 300) // some before the relay started, some while it runs
	e.caughtUp(t, r)
	e.streamMatchesLog(t)
}

func TestResumesAfterTheLastEventInTheStream(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t, 200)
	r, stop := e.run(t)
	e.caughtUp(t, r)
	stop()
	e.appendEvents(t, 200)
	r, stop = e.run(t)
	defer stop()
	e.caughtUp(t, r)
	e.streamMatchesLog(t)
}

// TestTwoRelaysCannotBothPublishAnEvent: two relays (two serve instances
// on one store) race; the stream still holds the log exactly once.
func TestTwoRelaysCannotBothPublishAnEvent(t *testing.T) {
	e := newEnv(t)
	r1, stop1 := e.run(t)
	defer stop1()
	r2, stop2 := e.run(t)
	defer stop2()
	e.appendEvents(t, 1000)
	e.caughtUp(t, r1)
	e.caughtUp(t, r2)
	e.streamMatchesLog(t)
}

// TestNATSOutage: NATS goes away while events keep being appended; when it
// is back the relay catches up with none lost and none repeated.
func TestNATSOutage(t *testing.T) {
	e := newEnv(t)
	r, stop := e.run(t)
	defer stop()
	e.appendEvents(t, 100)
	e.caughtUp(t, r)
	e.srv.Shutdown()
	e.appendEvents(t, 300) // the log does not care
	e.startNATS(t)
	e.caughtUp(t, r)
	e.streamMatchesLog(t)
}

// BenchmarkRelay: events relayed per second through the embedded server,
// from a log that is already written.
func BenchmarkRelay(b *testing.B) {
	e := newEnv(b)
	e.appendEvents(b, b.N)
	b.ResetTimer()
	start := time.Now()
	r, stop := e.run(b)
	e.caughtUp(b, r)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	stop()
}

// TestRefusesAStreamOfAnotherLog: a relay whose event store is not the one
// that fed the stream (a misconfigured second deployment) publishes nothing
// into it, instead of interleaving two ledgers.
func TestRefusesAStreamOfAnotherLog(t *testing.T) {
	e := newEnv(t)
	e.appendEvents(t, 50)
	r, stop := e.run(t)
	defer stop()
	e.caughtUp(t, r)

	other, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "other.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i := 0; i < 60; i++ {
		if _, err := other.Append(context.Background(), "x", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "order.placed", Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	intruder, err := relay.New(relay.Config{Store: other, JetStream: e.js, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := intruder.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if intruder.Healthy() || intruder.Position() != 0 {
		t.Fatalf("a relay of another log reached the stream (healthy %v, position %d)", intruder.Healthy(), intruder.Position())
	}
	e.streamMatchesLog(t)
}

// TestEncodeIsOneLineOfTheStoredJSON: a message is one NDJSON line that
// decodes to the event's fields, its data and metadata as stored, whatever
// characters they hold; stored bytes that are not JSON are refused.
func TestEncodeIsOneLineOfTheStoredJSON(t *testing.T) {
	e := eventstore.RecordedEvent{
		ID: uuid.New(), Type: "order.placed", Stream: "order-x\"y", Revision: 3, Position: 42,
		RecordedAt: time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC),
		Data:       []byte("{\n  \"return_url\": \"https://a.example/?x=1&y=<2>\",\n  \"name\": \"Zoë \\u2028\"\n}"),
		Metadata:   []byte(`{"user_id":"u<1>"}`),
	}
	body, err := relay.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(body, "\r\n") {
		t.Fatalf("body spans lines: %s", body)
	}
	var got relay.Message
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if got.ID != e.ID.String() || got.Type != e.Type || got.Stream != e.Stream || got.Revision != 3 || got.Position != 42 || !got.RecordedAt.Equal(e.RecordedAt) {
		t.Fatalf("decoded %+v from %s", got, body)
	}
	var wantData, gotData any
	json.Unmarshal(e.Data, &wantData)
	json.Unmarshal(got.Data, &gotData)
	if !reflect.DeepEqual(wantData, gotData) || string(got.Metadata) != string(e.Metadata) {
		t.Fatalf("data %s, metadata %s; want the stored ones", got.Data, got.Metadata)
	}
	e.Data = []byte(`{"amount": 1`)
	if _, err := relay.Encode(e); err == nil {
		t.Fatal("data that is not JSON was encoded")
	}
}

// TestABusyNATSPortFailsAtOnce: the embedded server's port taken, start-up
// fails at once saying the address is in use and naming the variable,
// rather than after a long wait for a server that never becomes ready.
func TestABusyNATSPortFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = relay.StartServer(ln.Addr().String(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "BILLING_NATS_LISTEN") {
		t.Fatalf("starting on a busy port: %v, want address already in use, naming BILLING_NATS_LISTEN", err)
	}
}
