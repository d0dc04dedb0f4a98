package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/relay"
)

// natsFixture is a NATS server the test owns, so it can stop and restart it.
type natsFixture struct {
	srv      *relay.Server
	dir      string
	listen   string
	url      string
	js       jetstream.JetStream
	shutdown bool
}

func startNATS(t *testing.T) *natsFixture {
	t.Helper()
	f := &natsFixture{dir: filepath.Join(t.TempDir(), "nats"), listen: "127.0.0.1:0"}
	f.start(t)
	f.url = f.srv.ClientURL()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.url, "nats://"))
	f.listen = "127.0.0.1:" + port
	nc, err := nats.Connect(f.url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.js, _ = jetstream.New(nc)
	return f
}

func (f *natsFixture) start(t *testing.T) {
	t.Helper()
	srv, err := relay.StartServer(f.listen, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	f.srv, f.shutdown = srv, false
	t.Cleanup(func() {
		if !f.shutdown {
			srv.Shutdown()
		}
	})
}

func (f *natsFixture) stop() {
	f.srv.Shutdown()
	f.shutdown = true
}

// startServiceOn starts serve on dataDir with an external NATS.
func startServiceOn(t *testing.T, dataDir, natsURL string) *service {
	t.Helper()
	t.Setenv("BILLING_NATS_URL", natsURL)
	return startService(t, dataDir)
}

// streamMatchesExport checks that the BILLING stream holds exactly the
// events `billing events export` writes, in the same order, byte for byte,
// each with its id as Nats-Msg-Id.
func streamMatchesExport(t *testing.T, js jetstream.JetStream, dataDir string) {
	t.Helper()
	out, _, err := runCLI(t, dataDir, "events", "export")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	ctx := context.Background()
	stream, err := js.Stream(ctx, "BILLING")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != len(lines) {
		t.Fatalf("stream holds %d messages, the export %d events", info.State.Msgs, len(lines))
	}
	for i, line := range lines {
		msg, err := stream.GetMsg(ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg.Data, []byte(line)) {
			for j, l := range lines {
				t.Logf("export %d: %.160s", j, l)
			}
			for j := uint64(0); j < info.State.Msgs; j++ {
				m, _ := stream.GetMsg(ctx, info.State.FirstSeq+j)
				t.Logf("stream %d: %.160s", j, m.Data)
			}
			t.Fatalf("message %d differs from export line %d:\n%s\n%s", i, i, msg.Data, line)
		}
		if id := msg.Header.Get("Nats-Msg-Id"); !strings.Contains(line, `"id":"`+id+`"`) {
			t.Fatalf("message %d has Nats-Msg-Id %q, not its event id", i, id)
		}
	}
}

// relayed waits until the relay has published the whole log.
func relayed(t *testing.T, s *service) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		head, err := s.Store.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s.Relay.Position() >= head {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay at %d of %d", s.Relay.Position(), head)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scenario buys, refunds and cancels as a user would.
func scenario(t *testing.T, s *service, user string) {
	t.Helper()
	c := s.user(t, user)
	pm := c.saveCard(visa)
	o := c.buy(orderBody(pm, fixedPlan, "a"))
	c.want(c.call(http.MethodPost, "/v1/me/wallet/orders/"+o.ID+"/refund", nil), http.StatusOK, "")
	sub := c.buy(orderBody(pm, monthlyPlan, "b"))
	c.want(c.call(http.MethodDelete, "/v1/me/wallet/subscriptions/"+*sub.SubscriptionID, nil), http.StatusOK, "")
	c.buy(orderBody(c.saveCard(declines), fixedPlan, "c"))
}

func TestTheStreamHoldsTheLogExactlyOnce(t *testing.T) {
	f := startNATS(t)
	dir := t.TempDir()
	s := startServiceOn(t, dir, f.url)
	scenario(t, s, "alice")
	scenario(t, s, "bob")
	relayed(t, s)
	streamMatchesExport(t, f.js, dir)
}

// TestNATSOutage: with NATS gone the API keeps taking orders and /readyz
// says NATS is down; when NATS is back every event arrives once.
func TestNATSOutage(t *testing.T) {
	f := startNATS(t)
	dir := t.TempDir()
	s := startServiceOn(t, dir, f.url)
	scenario(t, s, "alice")
	relayed(t, s)

	f.stop()
	scenario(t, s, "bob") // every call in it must succeed
	if resp := s.get(t, "/readyz", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with NATS down = %d, want 503", resp.StatusCode)
	}
	f.start(t)
	relayed(t, s)
	streamMatchesExport(t, f.js, dir)
}

func TestExportFilters(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	o := alice.buy(orderBody(alice.saveCard(visa), fixedPlan, "a"))

	out, _, err := runCLI(t, dir, "events", "export", "--stream", orderStream(t, o.ID))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"type":"order.placed"`) || !strings.Contains(lines[1], `"type":"order.paid"`) {
		t.Fatalf("export of the order's stream:\n%s", out)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, _, err := runCLI(t, dir, "events", "export", "--since", future); err != nil || out != "" {
		t.Fatalf("export since the future: %q, %v; want nothing", out, err)
	}
	if out, _, err := runCLI(t, dir, "events", "export", "--until", "2000-01-01T00:00:00Z"); err != nil || out != "" {
		t.Fatalf("export until 2000: %q, %v; want nothing", out, err)
	}
	if _, _, err := runCLI(t, dir, "events", "export", "--since", "yesterday"); err == nil {
		t.Fatal("a malformed --since was accepted")
	}
	// The API's ids name streams too: the order's id, the user's wallet.
	if byID, _, err := runCLI(t, dir, "events", "export", "--stream", o.ID); err != nil || byID != out {
		t.Fatalf("export --stream %s: %v\n%s\nwant the order's stream:\n%s", o.ID, err, byID, out)
	}
	if wallet, _, err := runCLI(t, dir, "events", "export", "--stream", "alice"); err != nil || !strings.Contains(wallet, `"type":"wallet.card_attached"`) {
		t.Fatalf("export --stream alice: %v\n%s\nwant alice's wallet", err, wallet)
	}
	if _, _, err := runCLI(t, dir, "events", "export", "--stream", "nobody"); err == nil || !strings.Contains(err.Error(), "ord_") {
		t.Fatalf("export of an unknown stream: %v, want a refusal saying what --stream takes", err)
	}
}

func orderStream(t *testing.T, id string) string {
	t.Helper()
	oid, err := domain.ParseOrderID(id)
	if err != nil {
		t.Fatal(err)
	}
	return oid.Stream()
}
