package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/robotlabor/billing/audit"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/esdb/esdbtest"
)

// TestTwoInstancesOnOneStore: two serve instances share one event store,
// one sandbox provider and one NATS, each with its own read models and its
// own reconciler. Traffic goes to both at once. Every paid order is charged
// once, every outcome is recorded once, one idempotency key is one order
// whichever instance takes it, each instance reads its own writes, and the
// BILLING stream holds the log exactly once. On both backends: the embedded
// store shared by path, and EventStoreDB (the in-process protocol server).
func TestTwoInstancesOnOneStore(t *testing.T) {
	t.Run("EmbeddedStore", func(t *testing.T) {
		twoInstances(t, func(shared string) string { return "sqlite:" + filepath.Join(shared, "events.db") })
	})
	t.Run("EventStoreDB", func(t *testing.T) {
		twoInstances(t, func(shared string) string { return esdbtest.New(t).URL() })
	})
}

func twoInstances(t *testing.T, storeURL func(shared string) string) {
	f := startNATS(t)
	shared := t.TempDir()
	t.Setenv("BILLING_EVENTSTORE_URL", storeURL(shared))
	t.Setenv("BILLING_SANDBOX_PATH", filepath.Join(shared, "sandbox.db"))
	t.Setenv("BILLING_JWT_SECRET", "a-secret-both-instances-share-0123456789")
	a := startServiceOn(t, t.TempDir(), f.url)
	b := startServiceOn(t, t.TempDir(), f.url)

	var wg sync.WaitGroup
	for i, s := range []*service{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scenario(t, s, []string{"ann", "ben", "cat", "dan"}[i])
		}()
	}
	wg.Wait()
	sameKeyOnBoth(t, a, b)
	relayed(t, a)
	relayed(t, b)
	streamMatchesExport(t, f.js, a.Config.DataDir)

	paid, outcomes := 0, map[string]int{}
	evs, err := a.Store.ReadAll(context.Background(), eventstore.Start, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		switch e.Type {
		case domain.EventOrderPaid, domain.EventOrderPaymentFailed, domain.EventOrderRefunded, domain.EventSubscriptionStarted, domain.EventSubscriptionCanceled:
			outcomes[e.Stream+" "+e.Type]++
			if e.Type == domain.EventOrderPaid {
				paid++
			}
		}
	}
	for k, n := range outcomes {
		if n != 1 {
			t.Errorf("%s recorded %d times", k, n)
		}
	}
	if charges := a.sandboxCharges(t); charges != paid {
		t.Fatalf("the provider charged %d times for %d paid orders", charges, paid)
	}
	if _, _, err := runCLI(t, b.Config.DataDir, "verify"); err != nil {
		t.Fatalf("verify on the second instance: %v", err)
	}
	sealOnBoth(t, a, b)
	if out, _, err := runCLI(t, b.Config.DataDir, "audit", "verify"); err != nil || !strings.Contains(out, "last seal: ") {
		t.Fatalf("audit verify after both instances sealed: %v\n%s", err, out)
	}
}

// sealOnBoth has both instances' sealers seal at once, as their minutely
// loops may: the seals stay one chain (audit verify checks it).
func sealOnBoth(t *testing.T, a, b *service) {
	t.Helper()
	var g errgroup.Group
	for _, s := range []*service{a, b, a, b} {
		g.Go(func() error {
			_, _, err := (&audit.Sealer{Store: s.Store, Now: time.Now}).Seal(context.Background())
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("seal: %v", err)
	}
}

// sameKeyOnBoth races one idempotency key across both instances: one
// order, and each instance that answered lists it at once.
func sameKeyOnBoth(t *testing.T, a, b *service) {
	t.Helper()
	pm := a.user(t, "zed").saveCard(visa)
	ids, _ := raceOneKey(t, []*client{a.user(t, "zed"), b.user(t, "zed")}, pm, "both", 16)
	if len(ids) != 1 {
		t.Fatalf("one key across two instances gave %d orders", len(ids))
	}
	for _, s := range []*service{a, b} {
		if got := s.user(t, "zed").orders("").Data; len(got) != 1 {
			t.Fatalf("an instance that answered lists %d orders for the key, want 1", len(got))
		}
	}
}

// TestEventStoreDBNodeRestartUnderABurst: the EventStoreDB node goes away
// for a moment while orders pour in and comes back. Requests under way
// wait for it or fail cleanly; the projector, reconciler and relay resume
// by themselves. Afterwards every order answered 201 is listed once and
// settled, its key replays it, unanswered keys place at most one order,
// each paid order was charged once, the read models match the log, and
// the stream holds the log exactly once.
func TestEventStoreDBNodeRestartUnderABurst(t *testing.T) {
	nf := startNATS(t)
	srv := esdbtest.New(t)
	t.Setenv("BILLING_EVENTSTORE_URL", srv.URL())
	dir := t.TempDir()
	s := startServiceOn(t, dir, nf.url)
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)

	stop := make(chan struct{})
	restarted := make(chan error, 1)
	created, unknown := burst(s.base, alice.token, pm, stop, func(n int) {
		switch n {
		case 20:
			srv.Stop()
			// An outage of some length, for requests to meet it; what
			// is checked below does not depend on how long it is.
			time.AfterFunc(300*time.Millisecond, func() { restarted <- srv.Restart() })
		case 60:
			close(stop)
		}
	})
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d orders answered 201, %d requests without an answer", len(created), len(unknown))
	listed := ordersSurvived(t, alice, pm, created, unknown)
	if charges := s.sandboxCharges(t); charges != len(listed) {
		t.Fatalf("the provider charged %d times for %d orders", charges, len(listed))
	}
	if _, _, err := runCLI(t, dir, "verify"); err != nil {
		t.Fatalf("verify after the node's restart: %v", err)
	}
	if out, _, err := runCLI(t, dir, "audit", "verify"); err != nil {
		t.Fatalf("audit verify after the node's restart: %v\n%s", err, out)
	}
	relayed(t, s)
	streamMatchesExport(t, nf.js, dir)
}

// TestLagIsInBytesOnEventStoreDB: EventStoreDB's positions are byte offsets
// in its transaction log, so its consumers' lag is exported as bytes, and
// never as a count of events it is not.
func TestLagIsInBytesOnEventStoreDB(t *testing.T) {
	t.Setenv("BILLING_EVENTSTORE_URL", esdbtest.New(t).URL())
	s := startService(t, t.TempDir())
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `billing_consumer_lag_bytes{consumer="projections"}`) || strings.Contains(string(body), "billing_consumer_lag_events") {
		t.Fatalf("/metrics on EventStoreDB shows lag as:\n%s", grepLines(string(body), "consumer_lag"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
